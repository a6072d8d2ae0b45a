import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ASSERTION_EXPIRY_MARGIN_SECONDS, jwtBearerAssertion } from '../../../src/outbound/jwt-bearer-assertion.js';
import { validateConfig } from '../../../src/config/load.js';
import { OAuthError } from '../../../src/errors.js';

/** An unsigned JWT-shaped token: only exp is read (the IdP verifies). */
const fake = (exp: number, tag: string) => [{ alg: 'none' }, { exp, jti: tag }, {}].map((p) => Buffer.from(JSON.stringify(p)).toString('base64url')).join('.');
const context = { tokenEndpoint: 'https://idp.example/token', endpoint: 'https://idp.example/token', presentedSecret: '', requestId: 'r' };

let dir: string | undefined;
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

function setup(now: { t: number }) {
  dir = mkdtempSync(join(tmpdir(), 'authbridge-jba-'));
  const file = join(dir, 'token');
  const auth = jwtBearerAssertion({ upstream: 'u', clientId: 'up', client: 'c', file, now: () => now.t * 1000 });
  const send = async () => {
    const body = new URLSearchParams();
    await auth.apply({ body, headers: {} }, context);
    return body.get('client_assertion');
  };
  return { file, auth, send };
}

describe('jwtBearerAssertion', () => {
  it('re-reads a file rewritten in place (same size), and sets client_id and the assertion type', async () => {
    const now = { t: 1_000_000 };
    const { file, send } = setup(now);
    writeFileSync(file, fake(now.t + 600, 'aaaa'));
    expect(await send()).toBe(fake(now.t + 600, 'aaaa'));
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(file, fake(now.t + 600, 'bbbb'));
    expect(await send()).toBe(fake(now.t + 600, 'bbbb'));
  });

  it(`refuses a token past exp − ${ASSERTION_EXPIRY_MARGIN_SECONDS} s, even cached, with a 503`, async () => {
    const now = { t: 1_000_000 };
    const { file, send } = setup(now);
    writeFileSync(file, fake(now.t + 60, 'x'));
    expect(await send()).toBe(fake(now.t + 60, 'x'));
    now.t += 60 - ASSERTION_EXPIRY_MARGIN_SECONDS;
    const err = await send().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthError);
    expect(err).toMatchObject({ status: 503, error: 'temporarily_unavailable', code: 'ERR_ASSERTION_UNAVAILABLE', category: 'upstream' });
    expect(String((err as Error).message)).not.toContain(fake(now.t, 'x').split('.')[1]);
  });

  it('refuses a token without exp, an empty file and a directory', async () => {
    const now = { t: 1_000_000 };
    const { file, send } = setup(now);
    writeFileSync(file, [{ alg: 'none' }, { sub: 'x' }, {}].map((p) => Buffer.from(JSON.stringify(p)).toString('base64url')).join('.'));
    await expect(send()).rejects.toMatchObject({ status: 503 });
    writeFileSync(file, '\n');
    await expect(send()).rejects.toMatchObject({ status: 503 });
    const other = jwtBearerAssertion({ upstream: 'u', clientId: 'up', client: 'c', file: dir! });
    await expect(other.apply({ body: new URLSearchParams(), headers: {} }, context)).rejects.toMatchObject({ status: 503 });
  });
});

describe('jwt_bearer_assertion config', () => {
  const config = (client: Record<string, unknown>) => ({
    upstreams: {
      idp: {
        issuer: 'https://idp.example',
        tokenEndpoint: 'https://idp.example/token',
        clients: [{ clientId: 'c', ...client, upstream: { method: 'jwt_bearer_assertion', assertion: { file: '/var/run/secrets/tokens/idp-token' } } }],
      },
    },
  });
  it('takes verify mode', () => {
    expect(() => validateConfig(config({ clientSecret: 'a-downstream-secret-long-enough' }), 'test')).not.toThrow();
  });
  it('refuses passthrough mode (nothing would authenticate the caller)', () => {
    expect(() => validateConfig(config({}), 'test')).toThrow(/jwt_bearer_assertion needs verify mode/);
  });
});
