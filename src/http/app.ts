import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { OAuthError } from '../errors.js';
import { ENDPOINTS } from '../config/endpoints.js';
import { observe } from './observe.js';
import type { AppDeps, AppEnv } from './env.js';
import { errorResponse } from './respond.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoute } from './routes/metrics.js';
import { discoveryRoute } from './routes/discovery.js';
import { jwksRoute } from './routes/jwks.js';
import { endpointChain } from './pipeline/chain.js';

/**
 * The HTTP surface. Middleware order: request id → log line and metrics → route → one error serializer.
 * `/metrics` is here unless it has a port of its own (`server.metricsPort`: see createMetricsApp).
 */
export function createApp(deps: AppDeps, { serveMetrics = true }: { serveMetrics?: boolean } = {}): Hono<AppEnv> {
  const app = base(deps);
  app.route('/', healthRoutes(deps));
  if (serveMetrics) app.route('/', metricsRoute(deps));
  app.get('/:upstream/jwks.json', jwksRoute(deps));
  app.get('/:upstream/.well-known/openid-configuration', discoveryRoute(deps, 'openid-configuration'));
  app.get('/:upstream/.well-known/oauth-authorization-server', discoveryRoute(deps, 'oauth-authorization-server'));
  for (const { name, path } of ENDPOINTS) {
    app.post(`/:upstream/${path}`, endpointChain(name, deps));
    app.all(`/:upstream/${path}`, () => {
      throw new OAuthError(405, 'invalid_request', `the ${name === 'token' ? 'token' : name} endpoint accepts POST only`, { allow: 'POST' }, { code: 'ERR_METHOD_NOT_ALLOWED' });
    });
  }
  app.notFound(() => {
    throw new OAuthError(404, 'invalid_request', 'not found', {}, { code: 'ERR_NOT_FOUND' });
  });
  return app;
}

/** The metrics listener for `server.metricsPort`: /metrics and the health probes, nothing else. */
export function createMetricsApp(deps: AppDeps): Hono<AppEnv> {
  const app = base(deps);
  app.route('/', healthRoutes(deps));
  app.route('/', metricsRoute(deps));
  app.notFound(() => {
    throw new OAuthError(404, 'invalid_request', 'not found', {}, { code: 'ERR_NOT_FOUND' });
  });
  return app;
}

function base(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { ready = () => true } = deps;
  app.use(requestId({ limitLength: 128 }));
  app.use(async function closeWhileDraining(c, next) {
    await next();
    if (!ready()) c.header('connection', 'close'); // clients reconnect elsewhere instead of reusing this socket
  });
  app.use(observe(deps.log, deps.metrics));
  app.onError((err, c) => errorResponse(err, c, deps.log));
  return app;
}
