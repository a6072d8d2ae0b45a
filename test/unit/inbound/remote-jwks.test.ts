// A client's jwksUri against a real local HTTP server: before a first good key set, a failed fetch is not tried
// again within refetchMinSeconds (callers in between are refused at once), as after a success.
import { afterEach, describe, expect, it } from 'vitest';
import { RemoteJwks } from '../../../src/inbound/remote-jwks.js';
import { OAuthError } from '../../../src/errors.js';
import { serveHttp, type LocalHttp } from '../../support/local-http.js';

let server: LocalHttp | undefined;
let jwks: RemoteJwks | undefined;
afterEach(async () => {
  await jwks?.close();
  await server?.close();
});

const KEYS = {
  keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', kid: 'k1' }],
};

/** The code of the refusal keys() ended in, or `keys` when it answered a set. */
const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'keys',
    (err: unknown) => (err instanceof OAuthError ? err.code : String(err)),
  );

describe('RemoteJwks before a first good set', () => {
  it('a failed fetch is tried again only after refetchMinSeconds: a burst of calls makes one fetch', async () => {
    let up = false;
    server = await serveHttp((_req, res) =>
      up ? res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(KEYS)) : res.writeHead(500).end(),
    );
    let now = 1_000_000;
    const warnings: unknown[] = [];
    jwks = new RemoteJwks(`${server.origin}/jwks`, {
      refetchMinSeconds: 30,
      now: () => now,
      log: { warn: (fields: unknown) => void warnings.push(fields) },
      clientId: 'c1',
    });

    for (let i = 0; i < 10; i++) expect(await outcome(jwks.keys())).toBe('ERR_ASSERTION_JWKS'); // one after the other
    expect(await Promise.all(Array.from({ length: 10 }, () => outcome(jwks!.keys())))).toEqual(Array(10).fill('ERR_ASSERTION_JWKS')); // at once
    expect(server.requests).toEqual(['GET /jwks']);
    expect(warnings).toEqual([expect.objectContaining({ clientId: 'c1', why: 'status 500', keptLastSet: false })]);

    up = true;
    now += 29_999;
    expect(await outcome(jwks.keys())).toBe('ERR_ASSERTION_JWKS'); // still within the interval: not asked
    expect(server.requests).toHaveLength(1);
    now += 1;
    expect(await outcome(jwks.keys())).toBe('keys'); // the interval has passed: fetched, and good now
    expect(await outcome(jwks.keys())).toBe('keys');
    expect(server.requests).toHaveLength(2);
  });

  it('an unreachable jwksUri (connection refused) is asked once per interval too', async () => {
    server = await serveHttp((_req, res) => res.end());
    const origin = server.origin;
    await server.close();
    server = undefined;
    let now = 1_000_000;
    let fetches = 0;
    jwks = new RemoteJwks(`${origin}/jwks`, { refetchMinSeconds: 30, now: () => now, log: { warn: () => void fetches++ } });
    for (let i = 0; i < 5; i++) expect(await outcome(jwks.keys())).toBe('ERR_ASSERTION_JWKS');
    expect(fetches).toBe(1);
    now += 30_000;
    expect(await outcome(jwks.keys())).toBe('ERR_ASSERTION_JWKS');
    expect(fetches).toBe(2);
  });
});

describe('RemoteJwks: the log line says why a fetch failed', () => {
  it.each([
    { answer: 'status 404', status: 404, body: '', why: 'status 404' },
    { answer: 'not JSON', status: 200, body: '<html>', why: 'invalid answer' },
    { answer: 'JSON without keys', status: 200, body: '{"keys":"none"}', why: 'invalid answer' },
  ])('$answer: $why', async ({ status, body, why }) => {
    server = await serveHttp((_req, res) => res.writeHead(status, { 'content-type': 'application/json' }).end(body));
    const warnings: unknown[] = [];
    jwks = new RemoteJwks(`${server.origin}/jwks`, { refetchMinSeconds: 30, log: { warn: (fields: unknown) => void warnings.push(fields) }, clientId: 'c1' });
    expect(await outcome(jwks.keys())).toBe('ERR_ASSERTION_JWKS');
    expect(warnings).toEqual([expect.objectContaining({ clientId: 'c1', why, keptLastSet: false })]);
  });

  it('a connection refused: the exchange kind', async () => {
    server = await serveHttp((_req, res) => res.end());
    const origin = server.origin;
    await server.close();
    server = undefined;
    const warnings: unknown[] = [];
    jwks = new RemoteJwks(`${origin}/jwks`, { refetchMinSeconds: 30, log: { warn: (fields: unknown) => void warnings.push(fields) } });
    expect(await outcome(jwks.keys())).toBe('ERR_ASSERTION_JWKS');
    expect(warnings).toEqual([expect.objectContaining({ why: 'connect' })]);
  });
});
