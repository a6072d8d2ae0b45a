// The front channel's config (config/authorize-schema.ts): redirectUris, a client's requestObject key (its own, never
// a key the upstream uses otherwise), authorizationRequest.par, and the rules between them and the rest.
import { describe, expect, it } from 'vitest';
import { redirectUriProblem } from '../../../src/config/authorize-schema.js';
import { configOf, problemsOf } from '../../support/config.js';

const KEK = Buffer.alloc(32, 7).toString('base64');
const PKCS11 = { module: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: 't', pin: '1234', keyLabel: 'k' };
const problems = (clients: Record<string, unknown>[], upstream: Record<string, unknown> = {}, blocks: Record<string, unknown> = {}) =>
  problemsOf(() => configOf({ ...blocks, upstream: { ...upstream, clients } }));
const pkj = (upstream: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  clientId: 'web',
  clientSecret: 's',
  redirectUris: ['https://broker.example.com/cb'],
  ...extra,
  upstream: { method: 'private_key_jwt', key: { file: '/keys/assertion.pem' }, ...upstream },
});

describe('redirectUriProblem', () => {
  it.each([
    'https://broker.example.com/cb',
    'https://broker.example.com/cb?tenant=a',
    'http://127.0.0.1:8080/cb',
    'http://localhost/cb',
    'http://[::1]/cb',
    'com.example.app:/oauth2redirect',
  ])('takes %s', (uri) => expect(redirectUriProblem(uri)).toBeUndefined());

  it.each([
    ['/cb', 'must be an absolute URL'],
    ['https://broker.example.com/cb#x', 'must not have a fragment (RFC 6749 §3.1.2)'],
    ['https://broker.example.com/cb#', 'must not have a fragment (RFC 6749 §3.1.2)'],
    ['http://broker.example.com/cb', 'must be https (plain http is accepted only for loopback hosts)'],
    ['javascript:alert(1)', 'the javascript: scheme is not a redirect target'],
    ['data:text/html,x', 'the data: scheme is not a redirect target'],
    ['myapp:/cb', 'a private-use scheme must be a reverse domain name, e.g. com.example.app:/callback (RFC 8252 §7.1)'],
  ])('refuses %s: %s', (uri, message) => expect(redirectUriProblem(uri)).toBe(message));
});

describe('the config', () => {
  it('takes redirectUris and a requestObject key of each source; par defaults to auto, alg to ES256', () => {
    const config = configOf({
      keys: { encryptionKey: KEK },
      upstream: {
        clients: [
          pkj({ requestObject: { key: 'managed' } }),
          pkj({ key: { file: '/keys/b.pem' }, requestObject: { key: { file: '/keys/ro.pem' }, alg: 'PS256' } }, { clientId: 'b' }),
          pkj({ key: { file: '/keys/c.pem' }, requestObject: { key: { pkcs11: PKCS11 } } }, { clientId: 'c' }),
        ],
      },
    });
    const upstream = config.upstreams.idp!;
    expect(upstream.authorizationRequest).toEqual({ par: 'auto' });
    expect(upstream.clients[0]!.redirectUris).toEqual(['https://broker.example.com/cb']);
    expect(upstream.clients[0]!.upstream.requestObject).toEqual({ key: 'managed', alg: 'ES256' });
    expect(upstream.clients[1]!.upstream.requestObject).toMatchObject({ alg: 'PS256' });
  });

  it('names a bad redirect URI at its path', () => {
    expect(problems([pkj({}, { redirectUris: ['https://broker.example.com/cb', 'http://broker.example.com/cb'] })])).toEqual([
      'upstreams.idp.clients[0].redirectUris[1]: must be https (plain http is accepted only for loopback hosts)',
    ]);
  });

  it('refuses a requestObject key that is a key the upstream uses otherwise: the assertion key file, a TLS key, a PKCS#11 object', () => {
    const message = (at: string) =>
      `upstreams.idp.clients[0].upstream.requestObject.key: is the key at ${at}: a request object is signed with its own key pair, never one used for client authentication or TLS`;
    expect(problems([pkj({ requestObject: { key: { file: '/keys/assertion.pem' } } })])).toEqual([message('clients[0].upstream.key')]);
    // the same file by another spelling, or among several files
    expect(problems([pkj({ requestObject: { key: { files: ['/keys/other.pem', '/keys/../keys/assertion.pem'] } } })])).toEqual([
      message('clients[0].upstream.key'),
    ]);
    // another client's assertion key
    expect(
      problems([pkj({ key: { file: '/keys/mine.pem' }, requestObject: { key: { file: '/keys/assertion.pem' } } }), pkj({}, { clientId: 'other' })]),
    ).toEqual([message('clients[1].upstream.key')]);
    const tls = { method: 'tls_client_auth', key: { file: '/tls/client.key', certificate: '/tls/client.pem' } };
    expect(problems([pkj({ ...tls, requestObject: { key: { file: '/tls/client.key' } } })])).toEqual([message('clients[0].upstream.key')]);
    expect(problems([pkj({ key: { pkcs11: PKCS11 }, requestObject: { key: { pkcs11: { ...PKCS11 } } } })])).toEqual([message('clients[0].upstream.key')]);
    // another object in the same token is another key
    expect(problems([pkj({ key: { pkcs11: PKCS11 }, requestObject: { key: { pkcs11: { ...PKCS11, keyLabel: 'ro' } } } })])).toEqual([]);
  });

  it('a managed requestObject key needs keys.encryptionKey', () => {
    expect(problems([pkj({ requestObject: { key: 'managed' } })])).toEqual(['keys.encryptionKey: required when a key is managed']);
  });

  it('a passthrough client with redirectUris has nothing to push with: refused unless par: never', () => {
    const passthrough = { clientId: 'pt', redirectUris: ['https://broker.example.com/cb'], upstream: { method: 'client_secret_post' } };
    expect(problems([passthrough])).toEqual([
      'upstreams.idp.clients[0].redirectUris: a passthrough client (no clientSecret) has no credential to push the authorization request with (the caller of /authorize presents none): set clientSecret, or authorizationRequest.par: never on the upstream',
    ]);
    expect(problems([passthrough], { authorizationRequest: { par: 'never' } })).toEqual([]);
    expect(problems([{ ...passthrough, redirectUris: undefined }])).toEqual([]);
  });

  it('par is one of auto, always, never', () => {
    expect(problems([pkj({})], { authorizationRequest: { par: 'sometimes' } })).toEqual([
      expect.stringMatching(/^upstreams\.idp\.authorizationRequest\.par: /),
    ]);
  });
});
