import type { Handler } from 'hono';
import type { AppDeps, AppEnv } from '../context.js';

/** `GET /metrics` (on the main app, or alone on `server.metricsPort`). */
export function metricsRoute({ metrics }: AppDeps): Handler<AppEnv> {
  return async function scrape(c) {
    c.get('facts').endpoint = 'metrics';
    return c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType });
  };
}
