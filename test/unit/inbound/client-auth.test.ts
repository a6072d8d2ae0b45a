import { describe, expect, it } from 'vitest';
import { authenticateClient, digestSecret, readCredentials, type DownstreamClient, type PresentedCredentials } from '../../../src/inbound/client-auth.js';
import { thrown } from '../../support/thrown.js';

const basic = (pair: string, scheme = 'Basic') => `${scheme} ${Buffer.from(pair, 'utf8').toString('base64')}`;
const form = (text: string) => new URLSearchParams(text);

const status = (authorization: string | undefined, body: string) => {
  const err = thrown(() => readCredentials(authorization, form(body)));
  return `${err.status} ${err.error}`;
};

describe('readCredentials: client_secret_post', () => {
  it('reads client_id and client_secret from the body', () => {
    expect(readCredentials(undefined, form('grant_type=x&client_id=app&client_secret=s3cret'))).toEqual({
      method: 'client_secret_post',
      clientId: 'app',
      secret: 's3cret',
    });
  });

  it('needs both: missing → 401, client_id alone → 401', () => {
    expect(status(undefined, 'grant_type=x')).toBe('401 invalid_client');
    expect(status(undefined, 'client_id=app')).toBe('401 invalid_client');
    expect(status(undefined, 'client_secret=s')).toBe('401 invalid_client');
  });

  it('treats empty values as absent (RFC 6749 §3.1)', () => {
    expect(status(undefined, 'client_id=app&client_secret=')).toBe('401 invalid_client');
    expect(status(undefined, 'client_id=&client_secret=s')).toBe('401 invalid_client');
    expect(readCredentials(undefined, form('client_id=app&client_secret=s&client_assertion='))).toMatchObject({ clientId: 'app' });
  });

  it('refuses client_assertion: alone → 401, with a client_secret → 400', () => {
    expect(status(undefined, 'client_id=app&client_assertion=eyJ.x.y')).toBe('401 invalid_client');
    expect(status(undefined, 'client_id=app&client_secret=s&client_assertion=eyJ.x.y')).toBe('400 invalid_request');
  });
});

describe('readCredentials: client_secret_basic', () => {
  it('decodes RFC 6749 Appendix B form-encoding (+ and %XX)', () => {
    expect(readCredentials(basic('my+app%3A1:p%40ss+w%2Brd%3A%C3%A9'), form(''))).toEqual({
      method: 'client_secret_basic',
      clientId: 'my app:1',
      secret: 'p@ss w+rd:é',
    });
  });

  it('splits at the first colon: the secret may hold raw colons', () => {
    expect(readCredentials(basic('app:a:b'), form(''))).toMatchObject({ clientId: 'app', secret: 'a:b' });
  });

  it('matches the scheme case-insensitively', () => {
    expect(readCredentials(basic('app:s', 'basic'), form(''))).toMatchObject({ clientId: 'app', secret: 's' });
    expect(readCredentials(basic('app:s', 'BASIC'), form(''))).toMatchObject({ clientId: 'app', secret: 's' });
  });

  it('refuses a second mechanism in the body with 400', () => {
    expect(status(basic('app:s'), 'client_secret=s')).toBe('400 invalid_request');
    expect(status(basic('app:s'), 'client_assertion=eyJ.x.y')).toBe('400 invalid_request');
  });

  it('ignores empty body credentials next to Basic', () => {
    expect(readCredentials(basic('app:s'), form('client_secret=&client_assertion=&client_id='))).toMatchObject({ clientId: 'app' });
  });

  it('accepts the same client_id in the body, refuses a different one', () => {
    expect(readCredentials(basic('my+app:s'), form('client_id=my+app'))).toMatchObject({ method: 'client_secret_basic', clientId: 'my app' });
    expect(status(basic('app:s'), 'client_id=other')).toBe('400 invalid_request');
  });

  it.each([
    ['bad base64', 'Basic !!!not-base64!!!'],
    ['no token', 'Basic '],
    ['no colon', basic('appsecret')],
    ['an empty client_id', basic(':secret')],
    ['bad percent-encoding', basic('app:100%zz')],
    ['invalid UTF-8 in the encoding', basic('app:%C3%28')],
  ])('refuses %s with 400 invalid_request', (_, header) => {
    expect(status(header, '')).toBe('400 invalid_request');
  });

  it('refuses an empty secret with 401 and a Basic challenge', () => {
    const err = thrown(() => readCredentials(basic('app:'), form('')));
    expect(err).toMatchObject({ status: 401, error: 'invalid_client', code: 'ERR_MISSING_CREDENTIALS' });
    expect(err.headers['www-authenticate']).toMatch(/^Basic /);
  });

  it('refuses another scheme (Bearer) with 401 and a www-authenticate challenge', () => {
    const err = thrown(() => readCredentials('Bearer abc.def.ghi', form('client_id=app&client_secret=s')));
    expect(err).toMatchObject({ status: 401, error: 'invalid_client', code: 'ERR_UNSUPPORTED_METHOD' });
    expect(err.headers['www-authenticate']).toMatch(/^Basic realm=/);
  });
});

describe('authenticateClient', () => {
  const clients = new Map<string, DownstreamClient>([
    ['verify', { clientId: 'verify', secretDigest: digestSecret('right-secret') }],
    ['passthrough', { clientId: 'passthrough' }],
  ]);
  const post = (clientId: string, secret: string): PresentedCredentials => ({ method: 'client_secret_post', clientId, secret });
  const viaBasic = (clientId: string, secret: string): PresentedCredentials => ({ method: 'client_secret_basic', clientId, secret });

  it('returns the client for the right secret', () => {
    expect(authenticateClient(post('verify', 'right-secret'), clients)).toBe(clients.get('verify'));
    expect(authenticateClient(viaBasic('verify', 'right-secret'), clients)).toBe(clients.get('verify'));
  });

  it('refuses a wrong secret with 401; no challenge for client_secret_post', () => {
    const err = thrown(() => authenticateClient(post('verify', 'wrong-secret'), clients));
    expect(err).toMatchObject({ status: 401, error: 'invalid_client', code: 'ERR_BAD_SECRET', category: 'client_auth' });
    expect(err.headers['www-authenticate']).toBeUndefined();
  });

  it('refuses a wrong secret via Basic with 401 and a www-authenticate challenge', () => {
    const err = thrown(() => authenticateClient(viaBasic('verify', 'wrong-secret'), clients));
    expect(err).toMatchObject({ status: 401, error: 'invalid_client' });
    expect(err.headers['www-authenticate']).toMatch(/^Basic /);
  });

  it('refuses an unknown client with 401, whatever the secret', () => {
    expect(thrown(() => authenticateClient(post('nobody', 'right-secret'), clients))).toMatchObject({
      status: 401,
      error: 'invalid_client',
      code: 'ERR_UNKNOWN_CLIENT',
    });
    expect(thrown(() => authenticateClient(post('nobody', 'authbridge-decoy-secret'), clients))).toMatchObject({ status: 401 });
    expect(thrown(() => authenticateClient(viaBasic('nobody', 'x'), clients)).headers['www-authenticate']).toMatch(/^Basic /);
  });

  it('answers an unknown client, a wrong secret and a method the client may not use alike; only the code differs', () => {
    const jwtOnly = new Map<string, DownstreamClient>([
      ...clients,
      ['jwt-only', { clientId: 'jwt-only', secretDigest: digestSecret('right-secret'), allowedInbound: new Set(['client_secret_jwt']) }],
    ]);
    for (const via of [post, viaBasic]) {
      const answers = [via('nobody', 'x'), via('verify', 'wrong-secret'), via('jwt-only', 'right-secret')].map((presented) => {
        const err = thrown(() => authenticateClient(presented, jwtOnly));
        return { code: err.code, seen: { status: err.status, body: err.toJSON(), headers: err.headers } };
      });
      expect(answers.map((a) => a.code)).toEqual(['ERR_UNKNOWN_CLIENT', 'ERR_BAD_SECRET', 'ERR_UNSUPPORTED_METHOD']);
      expect(answers[1]!.seen).toEqual(answers[0]!.seen);
      expect(answers[2]!.seen).toEqual(answers[0]!.seen);
    }
  });

  it('returns a passthrough client without checking the secret (the IdP does)', () => {
    expect(authenticateClient(post('passthrough', 'anything at all'), clients)).toBe(clients.get('passthrough'));
  });

  it('compares secrets of any length without throwing from timingSafeEqual', () => {
    for (const secret of ['', 'r', 'right-secre', 'right-secret!', 'x'.repeat(10_000)])
      expect(thrown(() => authenticateClient(post('verify', secret), clients)).status).toBe(401);
  });

  it('is case- and byte-exact', () => {
    expect(thrown(() => authenticateClient(post('verify', 'Right-secret'), clients)).status).toBe(401);
    expect(thrown(() => authenticateClient(post('Verify', 'right-secret'), clients)).status).toBe(401);
  });
});
