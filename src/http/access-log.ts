import type { MiddlewareHandler } from 'hono';
import type { Logger } from '../log.js';
import type { AppEnv } from './env.js';

/** One structured line per request. Only configured names and codes are logged, never credentials. */
export function accessLog(log: Logger): MiddlewareHandler<AppEnv> {
  return async function accessLog(c, next) {
    const started = performance.now();
    c.set('facts', {});
    await next();
    const status = c.res.status;
    const line = {
      requestId: c.get('requestId'),
      method: c.req.method,
      path: c.req.path.slice(0, 200),
      status,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
      ...c.get('facts'),
    };
    if (status >= 500) log.error(line, 'request');
    else if (status >= 400 && status !== 404) log.warn(line, 'request');
    else log.info(line, 'request');
  };
}
