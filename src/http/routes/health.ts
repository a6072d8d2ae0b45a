import { Hono } from 'hono';
import type { AppDeps, AppEnv } from '../env.js';

/** `/healthz`: the process answers. `/readyz`: config and keys are loaded and the store answers. */
export function healthRoutes({ runtime, ready = () => true }: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.get('/healthz', (c) => c.json({ status: 'ok' }));
  routes.get('/readyz', async (c) => {
    if (!ready()) return c.json({ status: 'not ready', reason: 'starting or shutting down' }, 503);
    const rt = runtime();
    try {
      await rt.store.ping();
    } catch {
      return c.json({ status: 'not ready', store: rt.store.type, reason: 'store unreachable' }, 503);
    }
    return c.json({ status: 'ready', upstreams: rt.upstreams.size, store: rt.store.type });
  });
  return routes;
}
