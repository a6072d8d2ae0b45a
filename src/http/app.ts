import { Hono, type Context } from 'hono';
import { OAuthError } from '../errors.js';
import { ENDPOINTS } from '../config/endpoints.js';
import { observer } from './observe.js';
import { assignRequestId, sendRequestId } from './request-id.js';
import type { AppDeps, AppEnv } from './env.js';
import { errorResponse } from './respond.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoute } from './routes/metrics.js';
import { discoveryRoute } from './routes/discovery.js';
import { jwksRoute } from './routes/jwks.js';
import { endpointChain } from './pipeline/chain.js';

/**
 * The HTTP surface. One middleware frames each request (request id, trace context, then the drain header, the log line
 * and metrics) around the route; one error serializer.
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
  app.notFound(notFound(deps));
  return app;
}

/** The metrics listener for `server.metricsPort`: /metrics and the health probes, nothing else. */
export function createMetricsApp(deps: AppDeps): Hono<AppEnv> {
  const app = base(deps);
  app.route('/', healthRoutes(deps));
  app.route('/', metricsRoute(deps));
  app.notFound(notFound(deps));
  return app;
}

function base(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { ready = () => true } = deps;
  const observe = observer(deps.log, deps.metrics);
  // one middleware for what every request gets (each middleware is an async frame and a dispatch per request)
  app.use(async function frame(c, next) {
    const started = performance.now();
    assignRequestId(c);
    observe.begin(c);
    await next();
    if (!ready()) c.header('connection', 'close'); // clients reconnect elsewhere instead of reusing this socket
    sendRequestId(c);
    observe.end(c, started);
  });
  app.onError((err, c) => errorResponse(err, c, deps.log));
  return app;
}

/**
 * 404 as an OAuth error, answered (not thrown): hono runs the not-found handler outside the error handling of the
 * middleware, so a throw from it would skip the request frame's end (request id, log line, metrics).
 */
const notFound = (deps: AppDeps) => (c: Context<AppEnv>) =>
  errorResponse(new OAuthError(404, 'invalid_request', 'not found', {}, { code: 'ERR_NOT_FOUND' }), c, deps.log);
