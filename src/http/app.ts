import { Hono, type Context, type Handler } from 'hono';
import { OAuthError } from '../errors.js';
import { ENDPOINTS } from '../config/endpoints.js';
import { observer } from './observe.js';
import { assignRequestId, sendRequestId } from './request-id.js';
import type { AppDeps, AppEnv } from './context.js';
import { errorResponse } from './respond.js';
import { healthz, readyzRoute } from './routes/health.js';
import { metricsRoute } from './routes/metrics.js';
import { discoveryRoute } from './routes/discovery.js';
import { authorizeRoute } from './routes/authorize.js';
import { brokerJwksRoute, jwksRoute } from './routes/jwks.js';
import { userinfoRoute } from './routes/userinfo.js';
import { endpointChain } from './pipeline/chain.js';

/** Wraps a route's handler in the request frame (see `framer`). */
type Framed = (handler: Handler<AppEnv>) => Handler<AppEnv>;

/**
 * The HTTP surface. Every route's handler runs in one frame (request id, trace context and, with tracing, the server
 * span; then the error serializer, the drain header, the log line and metrics); unknown paths too. `/metrics` is here
 * unless it has a port of its own (`server.metricsPort`: see createMetricsApp).
 */
export function createApp(deps: AppDeps, { serveMetrics = true }: { serveMetrics?: boolean } = {}): Hono<AppEnv> {
  const { app, framed } = base(deps);
  probeRoutes(app, framed, deps, serveMetrics);
  app.get('/:upstream/jwks.json', framed(jwksRoute(deps)));
  app.get('/:upstream/broker/jwks.json', framed(brokerJwksRoute(deps)));
  app.all('/:upstream/userinfo', framed(userinfoRoute(deps)));
  app.get('/:upstream/.well-known/openid-configuration', framed(discoveryRoute(deps, 'openid-configuration')));
  app.get('/:upstream/.well-known/oauth-authorization-server', framed(discoveryRoute(deps, 'oauth-authorization-server')));
  app.all('/:upstream/authorize', framed(authorizeRoute(deps))); // GET and POST; any other method: a 405 page
  for (const endpoint of ENDPOINTS) {
    const { name, path } = endpoint;
    const chain = endpointChain(endpoint, deps);
    // one route for every method, so that a POST matches one handler (hono then runs it without composing a chain)
    app.all(
      `/:upstream/${path}`,
      framed((c, next) => {
        if (c.req.method === 'POST') return chain(c, next);
        throw new OAuthError(405, 'invalid_request', `the ${name} endpoint accepts POST only`, { allow: 'POST' }, { code: 'ERR_METHOD_NOT_ALLOWED' });
      }),
    );
  }
  return app;
}

/** The metrics listener for `server.metricsPort`: /metrics and the health probes, nothing else. */
export function createMetricsApp(deps: AppDeps): Hono<AppEnv> {
  const { app, framed } = base(deps);
  probeRoutes(app, framed, deps, true);
  return app;
}

function probeRoutes(app: Hono<AppEnv>, framed: Framed, deps: AppDeps, serveMetrics: boolean): void {
  app.get('/healthz', framed(healthz));
  app.get('/readyz', framed(readyzRoute(deps)));
  if (serveMetrics) app.get('/metrics', framed(metricsRoute(deps)));
}

function base(deps: AppDeps): { app: Hono<AppEnv>; framed: Framed } {
  const app = new Hono<AppEnv>();
  const framed = framer(deps);
  // answered (not thrown) in the frame like any route: hono runs the not-found handler outside its error handling
  const notFound = framed(() => Promise.reject(new OAuthError(404, 'invalid_request', 'not found', {}, { code: 'ERR_NOT_FOUND' })));
  app.notFound((c) => notFound(c, nothingNext) as Promise<Response>);
  app.onError((err, c) => errorResponse(err, c, deps.log)); // only for a failure of the frame itself
  return { app, framed };
}

const nothingNext = async (): Promise<void> => undefined;

/**
 * The request frame, around each route's handler rather than as a middleware: a middleware makes every request a
 * chain of handlers that hono composes (an async frame and a dispatch more per request, and the router's sort of the
 * matches). A thrown error becomes its OAuth error response here, so the log line and metrics see the answer sent.
 */
function framer(deps: AppDeps): Framed {
  const { ready = () => true, log } = deps;
  const observe = observer(log, deps.metrics, deps.tracing);
  return (handler) =>
    async function frame(c: Context<AppEnv>, next) {
      const started = performance.now();
      assignRequestId(c);
      observe.begin(c);
      let res: Response | void;
      let thrown: unknown;
      try {
        res = await handler(c, next);
      } catch (err) {
        res = errorResponse(err, c, log);
        thrown = err;
      }
      if (res) c.res = res;
      if (!ready()) c.header('connection', 'close'); // clients reconnect elsewhere instead of reusing this socket
      sendRequestId(c);
      observe.end(c, started, thrown);
      return c.res;
    };
}
