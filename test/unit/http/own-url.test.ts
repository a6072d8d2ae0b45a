// authbridge's own URL without server.publicUrl (src/http/own-url.ts): the listener's origins, never a caller's
// Host; the Host header as the mirror reads it; and the warning validate gives for JWT clients without publicUrl.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateFile } from '../../../src/cli/validate.js';
import { validateConfig } from '../../../src/config/load.js';
import { inboundAudienceWarning } from '../../../src/config/public-url.js';
import { hostHeaderOrigin, listenerOrigins, ownBaseUrls } from '../../../src/http/own-url.js';

const LOOPBACK = (port: number) => [`http://localhost:${port}`, `http://127.0.0.1:${port}`, `http://[::1]:${port}`];

describe('listenerOrigins', () => {
  it.each([
    ['0.0.0.0', 8080, LOOPBACK(8080)],
    ['::', 8080, LOOPBACK(8080)],
    ['[::]', 8080, LOOPBACK(8080)],
    ['0:0:0:0:0:0:0:0', 8080, LOOPBACK(8080)],
    ['127.0.0.1', 8080, LOOPBACK(8080)],
    ['::1', 9000, [`http://[::1]:9000`, `http://localhost:9000`, `http://127.0.0.1:9000`]],
    ['localhost', 8080, LOOPBACK(8080)],
    ['127.0.0.2', 8080, ['http://127.0.0.2:8080', ...LOOPBACK(8080)]],
    ['10.0.0.5', 8080, ['http://10.0.0.5:8080']],
    ['Authbridge.Internal', 80, ['http://authbridge.internal']],
    ['fd00::5', 8080, ['http://[fd00::5]:8080']],
  ])('%s:%d', (host, port, expected) => {
    expect(new Set(listenerOrigins({ host, port }))).toEqual(new Set(expected));
  });
});

describe('ownBaseUrls', () => {
  const config = (server: object) =>
    validateConfig(
      {
        server,
        upstreams: {
          idp: {
            issuer: 'https://idp.example.com',
            clients: [{ clientId: 'c', clientSecret: 's', upstream: { method: 'client_secret_basic', clientSecret: 'u' } }],
          },
        },
      },
      't',
      {},
    );
  it('publicUrl alone when set (trailing slash stripped), whatever the listener', () => {
    expect(ownBaseUrls(config({ publicUrl: 'https://ab.example.com/base/' }), { host: '127.0.0.1', port: 8080 })).toEqual(['https://ab.example.com/base']);
  });
  it("else the listener's origins; none without a listener", () => {
    expect(ownBaseUrls(config({}), { host: '10.0.0.5', port: 8080 })).toEqual(['http://10.0.0.5:8080']);
    expect(ownBaseUrls(config({}), undefined)).toEqual([]);
  });
});

describe('hostHeaderOrigin', () => {
  it.each([
    ['bridge.internal:8080', 'http://bridge.internal:8080'],
    ['Bridge.Internal', 'http://bridge.internal'],
    ['bridge.internal:80', 'http://bridge.internal'],
    ['[::1]:8080', 'http://[::1]:8080'],
  ])('%s → %s', (host, origin) => expect(hostHeaderOrigin(host)).toBe(origin));
  it.each([undefined, '', 'evil.example/path', 'evil.example?x', 'evil.example#f', 'user@evil.example', 'a\\b', 'a b', 'host:99999', ':8080'])(
    'refuses %j',
    (host) => {
      expect(hostHeaderOrigin(host)).toBeUndefined();
    },
  );
});

describe('validate: JWT clients without publicUrl', () => {
  const dir = mkdtempSync(join(tmpdir(), 'authbridge-own-url-'));
  const client = (methods: string) =>
    `{ clientId: c, clientSecret: "${'x'.repeat(32)}", allowedInboundMethods: [${methods}], upstream: { method: client_secret_basic, clientSecret: u } }`;
  const validate = async (server: string, methods: string) => {
    const path = join(dir, `${Math.random()}.yaml`);
    writeFileSync(path, `${server}upstreams:\n  okta:\n    issuer: https://idp.example.com\n    clients:\n      - ${client(methods)}\n`);
    return validateFile(path, {});
  };

  it('warns (not refuses) when the listener is not loopback, naming the only aud accepted', async () => {
    const wildcard = await validate('', 'client_secret_jwt');
    expect(wildcard.ok).toBe(true);
    expect(wildcard.lines.slice(1)).toEqual([
      '  warning: server.publicUrl: unset: client assertions (private_key_jwt, client_secret_jwt) to upstream okta are accepted only with an aud at a loopback origin (http://localhost:8080, …), as the listener binds every interface, never at the Host a request names. Set the base URL callers reach authbridge at, e.g. https://authbridge.example.com',
    ]);
    expect((await validate('server: { host: 10.0.0.5, port: 9000 }\n', 'client_secret_jwt')).lines[1]).toContain(
      'an aud at http://10.0.0.5:9000, never at the Host',
    );
    expect((await validate('server: { host: "fd00::5", port: 80 }\n', 'client_secret_jwt')).lines[1]).toContain(
      'an aud at http://[fd00::5], never at the Host',
    );
  });

  it('is quiet with publicUrl, on loopback, or without JWT clients', async () => {
    for (const [server, methods] of [
      ['server: { publicUrl: https://ab.example.com }\n', 'client_secret_jwt'],
      ['server: { host: 127.0.0.1 }\n', 'client_secret_jwt'],
      ['', 'client_secret_post'],
    ] as const)
      expect((await validate(server, methods)).lines.slice(1), server + methods).toEqual([]);
  });

  it('takes the host the process listens on (a start option may override server.host)', () => {
    const config = validateConfig(
      {
        upstreams: {
          okta: {
            issuer: 'https://idp.example.com',
            clients: [
              {
                clientId: 'c',
                clientSecret: 'x'.repeat(32),
                allowedInboundMethods: ['client_secret_jwt'],
                upstream: { method: 'client_secret_basic', clientSecret: 'u' },
              },
            ],
          },
        },
      },
      't',
      {},
    );
    expect(inboundAudienceWarning(config)).toBeDefined();
    expect(inboundAudienceWarning(config, '127.0.0.1')).toBeUndefined();
  });
});
