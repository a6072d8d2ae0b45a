// Every 4xx and 5xx authbridge answers itself is RFC 6749 §5.2 JSON, including what node's HTTP parser and
// the request adapter refuse before any route runs: broken request lines, bad methods and header bytes,
// oversized headers, no Host, CONNECT, an unknown Expect; on the main and on the metrics listener.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { reportHostile } from '../support/hostile-report.js';
import { rawExchange, type RawResponse } from '../support/raw-http.js';

let bridge: Bridge;
beforeAll(async () => {
  bridge = await startBridge({
    upstreams: { idp: { issuer: 'https://idp.example.com', clients: [{ clientId: 'c', upstream: { method: 'client_secret_post' } }] } },
  });
});
afterAll(async () => {
  const answered = (await bridge.proxy.metrics.requests.get()).values.reduce((sum, v) => sum + v.value, 0);
  reportHostile({
    suite: 'protocol',
    case: 'malformed HTTP: request lines, methods, header bytes, framing, sizes, CONNECT, Expect',
    requests: answered,
    lost: 0,
    detail: 'every answer RFC 6749 JSON',
  });
  await bridge?.stop();
});

/** The answer is JSON with an OAuth error, not cacheable, and the connection is closed after it. */
function expectOAuthError(res: RawResponse | undefined, status: number, closes = true): Record<string, unknown> {
  expect(res, 'no response').toBeDefined();
  expect(res!.status, res!.statusLine).toBe(status);
  expect(res!.headers['content-type']).toMatch(/^application\/json/);
  expect(res!.headers['cache-control']).toBe('no-store');
  expect(res!.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  if (closes) expect(res!.headers.connection).toBe('close');
  const body = JSON.parse(res!.body) as Record<string, unknown>;
  expect(body).toEqual({ error: expect.stringMatching(/^[a-z_]+$/), error_description: expect.any(String) });
  return body;
}

const host = () => `Host: ${new URL(bridge.url).host}\r\n`;

describe('refused by the HTTP parser', () => {
  it.each([
    ['a garbage request line', 'GARBAGE\r\n\r\n'],
    ['an invalid method token', 'G(T /healthz HTTP/1.1\r\n'],
    ['an unknown method', 'FROB /healthz HTTP/1.1\r\n'],
    ['a control byte in a header name', 'GET /healthz HTTP/1.1\r\nX-B\x01d: 1\r\n'],
    ['a NUL in a header value', 'GET /healthz HTTP/1.1\r\nX-Bad: a\x00b\r\n'],
    ['a space before the colon', 'GET /healthz HTTP/1.1\r\nX-Bad : 1\r\n'],
    ['Content-Length with Transfer-Encoding', 'POST /idp/token HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n'],
    ['two Content-Length values', 'POST /idp/token HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n'],
  ])('%s: 400 invalid_request', async (_, head) => {
    const { response, closedAfterMs } = await rawExchange(bridge.url, [`${head}${host()}\r\n`]);
    expect(expectOAuthError(response, 400)).toEqual({ error: 'invalid_request', error_description: 'malformed HTTP request' });
    expect(closedAfterMs).toBeLessThan(2_000);
  });

  it('a broken chunked body, with the request already routed: 400', async () => {
    const head = `POST /idp/token HTTP/1.1\r\n${host()}Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const { response } = await rawExchange(bridge.url, [head, 'zz\r\nnot a chunk\r\n'], { gapMs: 50 });
    expectOAuthError(response, 400);
  });

  it('headers over 16 KiB: 431', async () => {
    const { response } = await rawExchange(bridge.url, [`GET /healthz HTTP/1.1\r\n${host()}X-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`]);
    expect(expectOAuthError(response, 431)).toEqual({ error: 'invalid_request', error_description: 'request headers too large' });
  });

  it('the metrics listener answers the same way', async () => {
    const { response } = await rawExchange(bridge.proxy.metricsUrl, ['GARBAGE\r\n\r\n']);
    expectOAuthError(response, 400);
  });

  it('each refusal is logged with its code and counted as endpoint "other"', async () => {
    const scrape = async () =>
      Number(
        /^authbridge_requests_total\{upstream="",endpoint="other",inbound_method="none",outbound_method="none",status_class="4xx"\} (\d+)/m.exec(
          await (await fetch(`${bridge.proxy.metricsUrl}/metrics`)).text(),
        )?.[1] ?? 0,
      );
    const before = await scrape();
    const { response } = await rawExchange(bridge.url, ['G(T / HTTP/1.1\r\n\r\n']);
    expect(await scrape()).toBe(before + 1);
    const line = bridge.capture.lines.find((l) => l.requestId === response!.headers['x-request-id']);
    expect(line).toMatchObject({ level: 'warn', msg: 'request', status: 400, refused: 'HPE_INVALID_METHOD' });
  });
});

describe('refused before any route', () => {
  it.each([
    ['no Host header', 'GET /healthz HTTP/1.1\r\n\r\n'],
    ['an asterisk target', 'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['a backslash in the path', 'GET /idp\\jwks.json HTTP/1.1\r\nHost: a\r\n\r\n'],
  ])('%s: 400 invalid_request', async (_, request) => {
    const { response } = await rawExchange(bridge.url, [request, 'GET /healthz HTTP/1.1\r\nConnection: close\r\nHost: a\r\n\r\n'], { gapMs: 100 });
    expect(expectOAuthError(response, 400, false)).toEqual({ error: 'invalid_request', error_description: 'malformed request target or Host header' });
  });

  it('CONNECT: 405, with Allow', async () => {
    const { response } = await rawExchange(bridge.url, ['CONNECT idp.example.com:443 HTTP/1.1\r\nHost: idp.example.com:443\r\n\r\n']);
    expectOAuthError(response, 405);
    expect(response!.headers.allow).toBe('GET, HEAD, POST');
  });

  it('an Expect other than 100-continue: 417', async () => {
    const { response } = await rawExchange(bridge.url, [`POST /idp/token HTTP/1.1\r\n${host()}Expect: teapot\r\nContent-Length: 1\r\n\r\n`]);
    expectOAuthError(response, 417);
  });
});

describe('routes, with any method', () => {
  const cases: [string, string, number][] = [
    ['OPTIONS', '/healthz', 404],
    ['POST', '/healthz', 404],
    ['DELETE', '/readyz', 404],
    ['PUT', '/idp/jwks.json', 404],
    ['OPTIONS', '/idp/jwks.json', 404],
    ['GET', '/nope/jwks.json', 404],
    ['PATCH', '/idp/token', 405],
    ['GET', '/idp/token', 405],
    ['GET', '/metrics', 404], // not on the main port: it has a listener of its own
    ['TRACE', '/healthz', 404],
  ];
  it.each(cases)('%s %s on the main port: %i JSON', async (method, path, status) => {
    const { response } = await rawExchange(bridge.url, [`${method} ${path} HTTP/1.1\r\n${host()}Connection: close\r\n\r\n`]);
    expectOAuthError(response, status);
  });

  it.each([
    ['POST', '/metrics'],
    ['OPTIONS', '/metrics'],
    ['GET', '/idp/jwks.json'],
    ['POST', '/idp/token'],
  ])('%s %s on the metrics listener: 404 JSON', async (method, path) => {
    const res = await fetch(`${bridge.proxy.metricsUrl}${path}`, { method });
    expect(res.status).toBe(404);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({ error: 'invalid_request', error_description: 'not found' });
  });

  it('HEAD answers like GET, without a body', async () => {
    const health = await fetch(`${bridge.url}/healthz`, { method: 'HEAD' });
    expect(health.status).toBe(200);
    const missing = await fetch(`${bridge.url}/nope/jwks.json`, { method: 'HEAD' });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/^application\/json/);
  });
});
