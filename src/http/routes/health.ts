import type { Handler } from 'hono';
import type { Runtime } from '../../runtime/types.js';
import type { AppDeps, AppEnv } from '../context.js';

/** `GET /healthz`: the process answers. */
export const healthz: Handler<AppEnv> = (c) => {
  c.get('facts').endpoint = 'health';
  return c.json({ status: 'ok' });
};

/** `GET /readyz`: config and keys are loaded, the store answers (and, if asked, discovery). */
export function readyzRoute({ runtime, ready = () => true }: AppDeps): Handler<AppEnv> {
  return async function readyz(c) {
    c.get('facts').endpoint = 'health';
    if (!ready()) return c.json({ status: 'not ready', reason: 'starting or shutting down' }, 503);
    const rt = runtime();
    try {
      await rt.store.ping();
    } catch {
      return c.json({ status: 'not ready', store: rt.store.type, reason: 'store unreachable' }, 503);
    }
    if (rt.config.server.readinessChecksDiscovery) {
      const failed = await unresolvedUpstreams(rt);
      if (failed.length > 0) return c.json({ status: 'not ready', store: rt.store.type, reason: 'discovery failed', upstreams: failed }, 503);
    }
    return c.json({ status: 'ready', upstreams: rt.upstreams.size, store: rt.store.type });
  };
}

/** Upstreams whose token endpoint cannot be resolved (discovery is cached once it succeeded). */
async function unresolvedUpstreams(rt: Runtime): Promise<string[]> {
  const results = await Promise.all(
    [...rt.upstreams.values()].map((u) =>
      u.endpoints.resolve().then(
        () => undefined,
        () => u.name,
      ),
    ),
  );
  return results.filter((name): name is string => name !== undefined);
}
