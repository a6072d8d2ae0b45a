// W3C Trace Context through authbridge: a valid traceparent (and its tracestate) reaches the IdP unchanged
// and its trace id is in the request's log line; an invalid one (bad shape, all-zero ids, CR/LF smuggled in)
// is neither forwarded nor logged, and takes its tracestate with it.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { faults, startFaultUpstream, type FaultUpstream } from '../support/fault-upstream.js';
import { rawExchange } from '../support/raw-http.js';

const SECRET = 'trace-broker-secret-41d7';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
const TRACESTATE = 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7';
const FORM = new URLSearchParams({ grant_type: 'client_credentials', client_id: 'broker', client_secret: SECRET }).toString();

let bridge: Bridge;
let stub: FaultUpstream;

beforeAll(async () => {
  stub = await startFaultUpstream(
    faults.answer(200, 'OK', { 'content-type': 'application/json' }, '{"access_token":"at-trace","token_type":"Bearer","expires_in":60}'),
  );
  bridge = await startBridge({
    upstreams: {
      idp: {
        issuer: stub.url,
        tokenEndpoint: stub.tokenEndpoint,
        clients: [
          { clientId: 'broker', clientSecret: SECRET, upstream: { clientId: 'up', method: 'client_secret_basic', clientSecret: 'upstream-secret-trace' } },
        ],
      },
    },
  });
});
afterAll(async () => {
  await bridge?.stop();
  await stub?.close();
});
beforeEach(() => {
  stub.reset();
  bridge.capture.clear();
});

/** A token request with extra headers; the headers the IdP received and the request's log line. */
async function token(headers: Record<string, string>) {
  const res = await fetch(`${bridge.url}/idp/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: FORM,
  });
  expect(res.status, await res.text()).toBe(200);
  return { upstream: stub.received.at(-1)!.headers, line: requestLine() };
}

function requestLine(): Record<string, unknown> {
  const lines = bridge.capture.lines.filter((l) => l.msg === 'request' && l.path === '/idp/token');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe('a valid trace context', () => {
  it('reaches the IdP unchanged, and the log line has its trace id', async () => {
    const { upstream, line } = await token({ traceparent: TRACEPARENT, tracestate: TRACESTATE });
    expect(upstream.traceparent).toBe(TRACEPARENT);
    expect(upstream.tracestate).toBe(TRACESTATE);
    expect(line.traceId).toBe(TRACE_ID);
  });

  it('a traceparent alone is forwarded alone', async () => {
    const { upstream, line } = await token({ traceparent: TRACEPARENT });
    expect(upstream.traceparent).toBe(TRACEPARENT);
    expect(upstream).not.toHaveProperty('tracestate');
    expect(line.traceId).toBe(TRACE_ID);
  });

  it('an unusable tracestate (over 512 characters) is dropped, the traceparent still goes', async () => {
    const { upstream, line } = await token({ traceparent: TRACEPARENT, tracestate: `k=${'v'.repeat(511)}` });
    expect(upstream.traceparent).toBe(TRACEPARENT);
    expect(upstream).not.toHaveProperty('tracestate');
    expect(line.traceId).toBe(TRACE_ID);
  });
});

describe('an invalid traceparent is not forwarded and not logged', () => {
  it.each([
    ['uppercase hex', `00-${TRACE_ID.toUpperCase()}-00F067AA0BA902B7-01`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`],
    ['all-zero parent id', `00-${TRACE_ID}-${'0'.repeat(16)}-01`],
    ['short trace id', `00-${TRACE_ID.slice(1)}-00f067aa0ba902b7-01`],
    ['unknown version', `01-${TRACE_ID}-00f067aa0ba902b7-01`],
    ['version ff', `ff-${TRACE_ID}-00f067aa0ba902b7-01`],
    ['extra field', `${TRACEPARENT}-00`],
    ['two headers joined', `${TRACEPARENT}, 00-aaf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`],
    ['not hex', `00-${'z'.repeat(32)}-00f067aa0ba902b7-01`],
    ['garbage', 'hello'],
  ])('%s', async (_, traceparent) => {
    const { upstream, line } = await token({ traceparent, tracestate: TRACESTATE });
    expect(upstream).not.toHaveProperty('traceparent');
    expect(upstream).not.toHaveProperty('tracestate'); // tracestate only with a valid traceparent
    expect(line).not.toHaveProperty('traceId');
    expect(bridge.logs.join('')).not.toContain(traceparent.slice(3, 35));
  });

  it('CR/LF smuggled into the headers never reaches the IdP or the log', async () => {
    const attempts = [
      // an obs-fold continuation line and bare CR / LF inside the values, written byte by byte
      `traceparent: ${TRACEPARENT}\r\n x-injected: 1`,
      `traceparent: ${TRACEPARENT}\rx-injected: 1`,
      `traceparent: 00-${TRACE_ID}\n-00f067aa0ba902b7-01`,
      `traceparent: ${TRACEPARENT}\r\ntracestate: a=1\rx-injected: 1`,
      `traceparent: ${TRACEPARENT}\r\ntracestate: a=1\r\n x-injected: 1`,
    ];
    for (const header of attempts) {
      stub.reset();
      bridge.capture.clear();
      const request = `POST /idp/token HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: ${FORM.length}\r\n${header}\r\nconnection: close\r\n\r\n${FORM}`;
      const { response } = await rawExchange(bridge.url, [request]);
      // node may refuse the request outright (400) or hand it over; either way nothing with CR/LF goes on
      expect([200, 400], header).toContain(response?.status);
      for (const received of stub.received) {
        for (const value of Object.values(received.headers)) expect(value, header).not.toMatch(/[\r\n]|x-injected/);
        if ('traceparent' in received.headers) expect(received.headers.traceparent, header).toBe(TRACEPARENT);
      }
      expect(bridge.logs.join(''), header).not.toContain('x-injected');
    }
  });
});
