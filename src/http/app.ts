import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { OAuthError } from '../errors.js';
import { accessLog } from './access-log.js';
import type { AppDeps, AppEnv } from './env.js';
import { errorResponse } from './respond.js';
import { healthRoutes } from './routes/health.js';
import { jwksRoute } from './routes/jwks.js';
import { tokenRoute } from './routes/token.js';

/** The HTTP surface. Middleware order: request id → access log → route → one error serializer. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(requestId({ limitLength: 128 }));
  app.use(accessLog(deps.log));
  app.route('/', healthRoutes(deps));
  app.get('/metrics', async (c) => c.body(await deps.metrics.registry.metrics(), 200, { 'content-type': deps.metrics.registry.contentType }));
  app.get('/:upstream/jwks.json', jwksRoute(deps));
  app.post('/:upstream/token', tokenRoute(deps));
  app.all('/:upstream/token', () => {
    throw new OAuthError(405, 'invalid_request', 'the token endpoint accepts POST only', { allow: 'POST' });
  });
  app.notFound(() => {
    throw new OAuthError(404, 'invalid_request', 'not found');
  });
  app.onError((err, c) => errorResponse(err, c, deps.log));
  return app;
}
