import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateFile } from '../../../src/cli/validate.js';
import { ConfigError, formatIssue } from '../../../src/config/errors.js';
import { configPath, parseConfig } from '../../../src/config/load.js';
import { resolveClient } from '../../../src/config/outbound-settings.js';
import { connectionAddressCap } from '../../../src/config/server-schema.js';
import { renderSchema } from '../../../scripts/write-schema.js';
import { writeKeyFile } from '../../support/keys.js';
import { makeClientCertificate } from '../../support/mtls-certs.js';

const minimal = (client: string, upstream = 'issuer: https://idp.example.com') => `
upstreams:
  okta:
    ${upstream}
    clients:
${client
  .trim()
  .split('\n')
  .map((l) => `      ${l}`)
  .join('\n')}
`;

/** The path: message pairs a config produces. */
function problems(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(yaml, 'test.yaml', env);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map(formatIssue);
    throw err;
  }
  return [];
}

describe('config: good files', () => {
  it('applies the documented defaults', () => {
    const config = parseConfig(minimal('- clientId: broker\n  upstream: { method: client_secret_basic }'), 't', {});
    expect(config.server).toEqual({
      host: '0.0.0.0',
      port: 8080,
      maxBodyBytes: 65536,
      maxConnections: 1024,
      headersTimeoutMs: 5_000,
      requestTimeoutMs: 10_000,
      metricsPort: 9464,
      metricsHost: '127.0.0.1',
      shutdownDelayMs: 0,
      shutdownGraceMs: 10_000,
      watchConfig: true,
      readinessChecksDiscovery: false,
      workers: 1,
    });
    expect(config.store).toEqual({ type: 'memory' });
    expect(config.keys).toEqual({ refreshSeconds: 2 });
    expect(config.upstreams.okta!.onStoreFailure).toBe('closed');
    expect(config.upstreams.okta!.timeoutMs).toBe(10_000);
    expect(config.upstreams.okta!.maxConnections).toBe(128);
    expect(config.upstreams.okta!.clockSkewSeconds).toBe(5);
    expect(config.upstreams.okta!.clients[0]!.upstream).toEqual({ method: 'client_secret_basic' });
    expect(resolveClient(config.upstreams.okta!, config.upstreams.okta!.clients[0]!)).toMatchObject({ basicEncoding: 'auto', profile: { source: 'default' } });
    expect(Object.isFrozen(config.upstreams.okta!.clients[0])).toBe(true);
  });

  it('metricsPort: null serves /metrics on the main port (no metrics listener)', () => {
    const config = parseConfig('server: { metricsPort: null }\n' + minimal('- clientId: broker\n  upstream: { method: client_secret_basic }'), 't', {});
    expect(config.server.metricsPort).toBeNull();
  });

  it('defaults private_key_jwt to ES256, aud = the token endpoint, 60 s, typ JWT and the thumbprint kid, iat 5 s back', () => {
    const config = parseConfig(minimal('- clientId: b\n  clientSecret: s\n  upstream: { method: private_key_jwt, key: { file: k.pem } }'), 't', {});
    const upstream = config.upstreams.okta!;
    expect(resolveClient(upstream, upstream.clients[0]!).keyAssertion).toEqual({
      alg: 'ES256',
      audience: 'token_endpoint',
      ttlSeconds: 60,
      header: { typ: 'JWT', kid: 'thumbprint', x5t: false, x5tS256: false, x5c: false },
      clockSkewSeconds: 5,
    });
  });

  it('reads ${VAR} from the environment, one scalar at a time, and $${ as a literal', () => {
    const yaml = minimal('- clientId: b\n  clientSecret: "${S}"\n  upstream: { method: client_secret_post, clientSecret: "pre-$${X}-${T}" }');
    const config = parseConfig(yaml, 't', { S: 'a: [b, c]', T: 'tail' });
    const client = config.upstreams.okta!.clients[0]!;
    expect(client.clientSecret).toBe('a: [b, c]');
    expect(client.upstream).toMatchObject({ clientSecret: 'pre-${X}-tail' });
  });

  it('every example under config/ validates (with its variables and key files provided)', async () => {
    const dir = new URL('../../../config/', import.meta.url).pathname;
    const files = ['authbridge.yaml', ...readdirSync(join(dir, 'examples')).map((f) => `examples/${f}`)];
    const tls = await makeClientCertificate({ subject: 'CN=portal-prod' });
    const tlsDir = mkdtempSync(join(tmpdir(), 'authbridge-examples-'));
    writeFileSync(join(tlsDir, 'tls.key'), tls.keyPem, { mode: 0o600 });
    writeFileSync(join(tlsDir, 'tls.crt'), tls.certPem);
    const env = {
      PORTAL_TLS_KEY: join(tlsDir, 'tls.key'),
      PORTAL_TLS_CERT: join(tlsDir, 'tls.crt'),
      BROKER_SECRET: 'broker-secret-value',
      OKTA_KEY_FILE: writeKeyFile('ec-p256'),
      LEGACY_APP_SECRET: 'legacy',
      CORP_SSO_SECRET: 'corp',
      M2M_SECRET: 'm2m',
      PARTNER_HMAC_SECRET: 'x'.repeat(32),
      REDIS_URL: 'redis://127.0.0.1:6379',
      AUTHBRIDGE_KEK: Buffer.alloc(32, 7).toString('base64'),
    };
    for (const file of files) {
      const result = await validateFile(join(dir, file), env);
      expect(result.lines.join('\n'), file).toMatch(/OK/);
    }
  });

  it('the committed JSON Schema is the one the zod schema generates (run `npm run schema`)', () => {
    expect(readFileSync(new URL('../../../config/authbridge.schema.json', import.meta.url), 'utf8')).toBe(renderSchema());
  });

  it('picks the file: --config, else AUTHBRIDGE_CONFIG, else config/authbridge.yaml', () => {
    expect(configPath('a.yaml', { AUTHBRIDGE_CONFIG: 'b.yaml' })).toBe('a.yaml');
    expect(configPath(undefined, { AUTHBRIDGE_CONFIG: 'b.yaml' })).toBe('b.yaml');
    expect(configPath(undefined, {})).toBe('config/authbridge.yaml');
  });
});

describe('config: each kind of bad file names the bad field', () => {
  const cases: [string, string, string[]][] = [
    ['YAML syntax', 'upstreams: [\n', ['line 2']],
    ['empty file', '', ['config file is empty']],
    [
      'unknown field',
      minimal('- clientId: b\n  upstream: { method: client_secret_post, secrt: x }'),
      ['upstreams.okta.clients[0].upstream.secrt: unknown field'],
    ],
    ['unknown method', minimal('- clientId: b\n  upstream: { method: tls_magic }'), ['upstreams.okta.clients[0].upstream.method:']],
    [
      'bad upstream name',
      'upstreams:\n  Okta_1: { issuer: https://a.example, clients: [{ clientId: b, upstream: { method: client_secret_post } }] }',
      ['upstreams.Okta_1 (name): upstream names are [a-z0-9-]+'],
    ],
    [
      'reserved upstream name',
      'upstreams:\n  healthz: { issuer: https://a.example, clients: [{ clientId: b, upstream: { method: client_secret_post } }] }',
      ['upstreams.healthz (name): is a reserved path'],
    ],
    ['no upstreams', 'upstreams: {}', ['upstreams: at least one upstream is required']],
    [
      'http issuer off loopback',
      minimal('- clientId: b\n  upstream: { method: client_secret_post }', 'issuer: http://idp.example.com'),
      ['upstreams.okta.issuer: must be an https URL'],
    ],
    [
      'missing env var',
      minimal('- clientId: b\n  clientSecret: ${NOPE}\n  upstream: { method: client_secret_post, clientSecret: x }'),
      ['upstreams.okta.clients[0].clientSecret: environment variable NOPE is not set'],
    ],
    [
      'short HS256 secret',
      minimal('- clientId: b\n  clientSecret: s\n  upstream: { method: client_secret_jwt, clientSecret: only-31-bytes-xxxxxxxxxxxxxxxxx }'),
      ['upstreams.okta.clients[0].upstream.clientSecret: HS256 needs a secret of at least 32 bytes'],
    ],
    [
      'short HS512 secret',
      minimal(`- clientId: b\n  clientSecret: s\n  upstream: { method: client_secret_jwt, alg: HS512, clientSecret: ${'x'.repeat(48)} }`),
      ['upstreams.okta.clients[0].upstream.clientSecret: HS512 needs a secret of at least 64 bytes'],
    ],
    [
      'private_key_jwt in passthrough',
      minimal('- clientId: b\n  upstream: { method: private_key_jwt, key: { file: k.pem } }'),
      ['upstreams.okta.clients[0].clientSecret: private_key_jwt needs verify mode'],
    ],
    [
      'private_key_jwt without key',
      minimal('- clientId: b\n  clientSecret: s\n  upstream: { method: private_key_jwt }'),
      ['upstreams.okta.clients[0].upstream.key:'],
    ],
    [
      'verify mode without upstream secret',
      minimal('- clientId: b\n  clientSecret: s\n  upstream: { method: client_secret_basic }'),
      ['upstreams.okta.clients[0].upstream.clientSecret: required for client_secret_basic in verify mode'],
    ],
    [
      'upstream secret in passthrough',
      minimal('- clientId: b\n  upstream: { method: client_secret_basic, clientSecret: x }'),
      ['upstreams.okta.clients[0].upstream.clientSecret: passthrough mode'],
    ],
    [
      'ttl over 300 s',
      minimal('- clientId: b\n  clientSecret: s\n  upstream: { method: private_key_jwt, key: { file: k }, assertionTtlSeconds: 301 }'),
      ['upstreams.okta.clients[0].upstream.assertionTtlSeconds:'],
    ],
    [
      'bad alg',
      minimal('- clientId: b\n  clientSecret: s\n  upstream: { method: private_key_jwt, key: { file: k }, alg: HS256 }'),
      ['upstreams.okta.clients[0].upstream.alg:'],
    ],
    [
      'duplicate clientId',
      minimal('- { clientId: b, upstream: { method: client_secret_post } }\n- { clientId: b, upstream: { method: client_secret_basic } }'),
      ['upstreams.okta.clients[1].clientId: duplicate clientId "b"'],
    ],
    [
      'bad encoding',
      minimal('- clientId: b\n  upstream: { method: client_secret_basic, basicEncoding: latin1 }'),
      ['upstreams.okta.clients[0].upstream.basicEncoding:'],
    ],
    [
      'headers deadline past the request deadline',
      'server: { headersTimeoutMs: 20000 }\n' + minimal('- { clientId: b, upstream: { method: client_secret_post } }'),
      ['server.headersTimeoutMs: must not exceed requestTimeoutMs (10000)'],
    ],
    [
      'metrics port equal to the main port',
      'server: { port: 9000, metricsPort: 9000 }\n' + minimal('- { clientId: b, upstream: { method: client_secret_post } }'),
      ['server.metricsPort: must differ from port'],
    ],
    [
      'no connections allowed',
      'server: { maxConnections: 0 }\n' +
        minimal('- { clientId: b, upstream: { method: client_secret_post } }', 'issuer: https://idp.example.com\n    maxConnections: 0'),
      ['server.maxConnections:', 'upstreams.okta.maxConnections:'],
    ],
    [
      'per-address connections past the listener cap',
      'server: { maxConnections: 100, maxConnectionsPerAddress: 101 }\n' + minimal('- { clientId: b, upstream: { method: client_secret_post } }'),
      ['server.maxConnectionsPerAddress: must not exceed maxConnections (100)'],
    ],
    [
      'bad port and body cap',
      'server: { port: 70000, maxBodyBytes: 10 }\n' + minimal('- { clientId: b, upstream: { method: client_secret_post } }'),
      ['server.port:', 'server.maxBodyBytes:'],
    ],
    [
      'managed key without a KEK',
      minimal('- clientId: b\n  clientSecret: s\n  upstream: { method: private_key_jwt, key: managed }'),
      ['keys.encryptionKey: required when a key is managed'],
    ],
    [
      'upstream-level managed key without a KEK',
      minimal('- clientId: b\n  clientSecret: s\n  upstream: { method: private_key_jwt }', 'issuer: https://idp.example.com\n    key: managed'),
      ['keys.encryptionKey: required when a key is managed'],
    ],
    [
      'KEK of the wrong size',
      'keys: { encryptionKey: c2hvcnQ= }\n' + minimal('- { clientId: b, upstream: { method: client_secret_post } }'),
      ['keys.encryptionKey: must be exactly 32 bytes, got 5'],
    ],
    // 32 bytes to Buffer.from(…, 'base64'), which reads both alphabets; start-up decodes with the same decodeKek
    [
      'KEK mixing + and _',
      `keys: { encryptionKey: "${'A'.repeat(20)}+${'B'.repeat(10)}_${'C'.repeat(11)}" }\n` +
        minimal('- { clientId: b, upstream: { method: client_secret_post } }'),
      ['keys.encryptionKey: mixes the base64 (+ /) and base64url (- _) alphabets'],
    ],
    [
      'KEK that is not base64',
      'keys: { encryptionKey: "not a key!" }\n' + minimal('- { clientId: b, upstream: { method: client_secret_post } }'),
      ['keys.encryptionKey: is not base64'],
    ],
    [
      'private_key_jwt with no key anywhere',
      minimal('- clientId: b\n  clientSecret: s\n  upstream: { method: private_key_jwt }'),
      ['upstreams.okta.clients[0].upstream.key: required: a key file, `managed`, or `key: managed` on the upstream'],
    ],
    [
      'file and files at once',
      minimal('- clientId: b\n  clientSecret: s\n  upstream: { method: private_key_jwt, key: { file: a, files: [b] } }'),
      ['upstreams.okta.clients[0].upstream.key:'],
    ],
    [
      'shared upstream key under two algs',
      `keys: { encryptionKey: ${Buffer.alloc(32, 1).toString('base64')} }\n` +
        minimal(
          '- { clientId: a, clientSecret: s, upstream: { method: private_key_jwt, alg: ES256 } }\n- { clientId: b, clientSecret: s, upstream: { method: private_key_jwt, alg: EdDSA } }',
          'issuer: https://idp.example.com\n    key: managed',
        ),
      ['upstreams.okta.key: the clients sharing the upstream key use different algs (ES256, EdDSA)'],
    ],
    [
      'pre-publish not shorter than the rotation',
      minimal(
        '- clientId: b\n  clientSecret: s\n  upstream: { method: private_key_jwt, key: { file: k }, rotation: { rotateEverySeconds: 60, prePublishSeconds: 60 } }',
      ),
      ['upstreams.okta.clients[0].upstream.rotation.prePublishSeconds: prePublishSeconds must be shorter'],
    ],
    ['unknown store type', 'store: { type: etcd }\n' + minimal('- { clientId: b, upstream: { method: client_secret_post } }'), ['store.type:']],
    [
      'bad onStoreFailure',
      minimal('- { clientId: b, upstream: { method: client_secret_post } }', 'issuer: https://idp.example.com\n    onStoreFailure: maybe'),
      ['upstreams.okta.onStoreFailure:'],
    ],
    ['duplicate YAML key', 'server: {}\nserver: {}\n' + minimal('- { clientId: b, upstream: { method: client_secret_post } }'), ['line 2']],
  ];
  it.each(cases)('%s', (_name, yaml, expected) => {
    const found = problems(yaml);
    for (const prefix of expected)
      expect(
        found.some((p) => p.startsWith(prefix)),
        `${prefix}\n in ${found.join('\n')}`,
      ).toBe(true);
  });

  it('lists every problem at once, not only the first', () => {
    const yaml = 'server: { port: -1 }\n' + minimal('- clientId: b\n  clientSecret: ${A}\n  upstream: { method: client_secret_jwt, clientSecret: "${B}" }');
    expect(problems(yaml)).toEqual([
      'upstreams.okta.clients[0].clientSecret: environment variable A is not set',
      'upstreams.okta.clients[0].upstream.clientSecret: environment variable B is not set',
      'server.port: must be at least 0',
    ]);
  });
});

describe('config: ${VAR} wherever a value can stand', () => {
  it('works unquoted inside a flow mapping, and a value never becomes YAML', () => {
    const yaml = minimal('- { clientId: b, clientSecret: ${S}, upstream: { method: client_secret_basic, clientSecret: ${UP_SECRET} } }');
    const client = parseConfig(yaml, 't', { S: 'x}, y: [1', UP_SECRET: '{ a: b }' }).upstreams.okta!.clients[0]!;
    expect(client.clientSecret).toBe('x}, y: [1');
    expect(client.upstream).toMatchObject({ clientSecret: '{ a: b }' });
  });

  it('$${ stays a literal ${ unquoted too; text that looks like a placeholder is left alone', () => {
    const yaml = minimal('- { clientId: _authbridge_env_0_, clientSecret: $${S}, upstream: { method: client_secret_post, clientSecret: a${S}b } }');
    const client = parseConfig(yaml, 't', { S: 'v' }).upstreams.okta!.clients[0]!;
    expect(client).toMatchObject({ clientId: '_authbridge_env_0_', clientSecret: '${S}', upstream: { clientSecret: 'avb' } });
  });

  it('names the variable and the field when it is missing', () => {
    expect(problems(minimal('- { clientId: b, clientSecret: ${MISSING}, upstream: { method: client_secret_basic, clientSecret: x } }'))).toEqual([
      'upstreams.okta.clients[0].clientSecret: environment variable MISSING is not set',
    ]);
  });

  it('a YAML error is placed where the user wrote it, not in the substituted text', () => {
    expect(problems('server: { publicUrl: ${A}, port: 1 ]\n')).toEqual([
      'line 1, column 36: Flow map in block collection must be sufficiently indented and end with a }',
    ]);
  });

  it('is not taken in names', () => {
    expect(
      problems('upstreams:\n  ${NAME}: { issuer: https://a.example, clients: [{ clientId: b, upstream: { method: client_secret_post } }] }', { NAME: 'okta' }),
    ).toEqual(['upstreams["${NAME}"]: a field or upstream name cannot come from an environment variable; write the name itself']);
  });
});

describe('config: messages in plain words, one per mistake', () => {
  it('a misspelt field is one message, with the field it probably meant', () => {
    expect(problems(minimal('- { clientId: b, clientSecert: s, upstream: { method: client_secret_basic, clientSecret: x } }'))).toEqual([
      'upstreams.okta.clients[0].clientSecert: unknown field; did you mean clientSecret?',
    ]);
  });

  it('values outside a list name the list and the closest entry', () => {
    expect(
      problems(
        minimal(
          '- { clientId: b, upstream: { method: client_secret_bsic } }\n- { clientId: c, clientSecret: s, upstream: { method: private_key_jwt, alg: ES265, key: manged } }',
        ),
      ),
    ).toEqual([
      'upstreams.okta.clients[0].upstream.method: "client_secret_bsic" is not one of client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt, tls_client_auth, self_signed_tls_client_auth, jwt_bearer_assertion, auto; did you mean client_secret_basic?',
      'upstreams.okta.clients[1].upstream.alg: "ES265" is not one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA; did you mean ES256?',
      'upstreams.okta.clients[1].upstream.key: "manged" is not managed or a mapping; did you mean managed?',
    ]);
    expect(problems('store: { type: redsi }\n' + minimal('- { clientId: b, upstream: { method: client_secret_post } }'))).toEqual([
      'store.type: "redsi" is not one of memory, redis; did you mean redis?',
    ]);
  });

  it('types, ranges and missing fields in sentences', () => {
    expect(
      problems(
        'server: { port: "8080", maxBodyBytes: 10, watchConfig: yes, prot: 1 }\nupstreams:\n  okta: { clients: [{ clientId: "", upstream: { method: client_secret_post } }] }',
      ),
    ).toEqual([
      'server.port: must be a number, got the text "8080" (write it without quotes)',
      'server.maxBodyBytes: must be at least 1024',
      'server.watchConfig: must be true or false, got text',
      'server.prot: unknown field; did you mean port?',
      'upstreams.okta.issuer: required',
      'upstreams.okta.clients[0].clientId: must not be empty',
    ]);
  });

  it("a duplicate clientId is reported in the same round as its clients' other problems", () => {
    expect(
      problems(
        minimal('- { clientId: b, clientSecert: s, upstream: { method: client_secret_post } }\n- { clientId: b, upstream: { method: client_secret_pst } }'),
      ),
    ).toEqual([
      'upstreams.okta.clients[0].clientSecert: unknown field; did you mean clientSecret?',
      'upstreams.okta.clients[1].upstream.method: "client_secret_pst" is not one of client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt, tls_client_auth, self_signed_tls_client_auth, jwt_bearer_assertion, auto; did you mean client_secret_post?',
      'upstreams.okta.clients[1].clientId: duplicate clientId "b"',
    ]);
  });

  it('a badly named upstream is checked inside too, in the same round', () => {
    expect(problems('upstreams:\n  Okta: { issuer: https://a.example, clients: [{ clientId: b, upstream: { method: client_secret_pots } }] }')).toEqual([
      'upstreams.Okta (name): upstream names are [a-z0-9-]+ (they become URL paths)',
      'upstreams.Okta.clients[0].upstream.method: "client_secret_pots" is not one of client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt, tls_client_auth, self_signed_tls_client_auth, jwt_bearer_assertion, auto; did you mean client_secret_post?',
    ]);
  });

  it('no validation-library words reach the user', () => {
    const yaml =
      'server: { port: x, host: 1, publicUrl: ftp }\nstore: { type: 1 }\nthrottle: []\nkeys: 3\nupstreams:\n  a: { issuer: 1, clients: [1, { clientId: [], upstream: { method: private_key_jwt, key: 7 } }] }';
    const found = problems(yaml).join('\n');
    expect(found).not.toMatch(/Invalid|discriminator|received|expected|Unrecognized|>=/);
  });
});

const PUBLIC_URL_REQUIRED =
  'server.publicUrl: required: upstream okta publishes a JWKS for the IdP to fetch (private_key_jwt), and its URL would otherwise be built from the listen address 0.0.0.0, which no IdP can reach. Set the base URL the IdP reaches authbridge at, e.g. https://authbridge.example.com';

describe('config: key files are checked at load, with the field path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'authbridge-cfg-'));
  const withKey = (file: string, alg: string) => {
    const path = join(dir, `c-${Math.random()}.yaml`);
    writeFileSync(
      path,
      'server: { publicUrl: https://ab.example.com }\n' +
        minimal(`- clientId: b\n  clientSecret: s\n  upstream: { method: private_key_jwt, alg: ${alg}, key: { file: "${file}" } }`),
    );
    return validateFile(path, {});
  };
  const cases: [string, () => string, string, RegExp][] = [
    ['missing file', () => join(dir, 'nope.pem'), 'ES256', /key\.file: cannot read key file .*ENOENT/],
    ['not a key', () => (writeFileSync(join(dir, 'junk.pem'), 'hello'), join(dir, 'junk.pem')), 'ES256', /key\.file: .* is not a private key/],
    [
      'public key only',
      () => (writeFileSync(join(dir, 'pub.json'), '{"kty":"EC","crv":"P-256","x":"a","y":"b"}'), join(dir, 'pub.json')),
      'ES256',
      /no private members/,
    ],
    ['EC key for RS256', () => writeKeyFile('ec-p256', 'pem', dir), 'RS256', /RS256 needs an RSA key, got a ec prime256v1 key/],
    ['P-384 for ES256', () => writeKeyFile('ec-p384', 'pem', dir), 'ES256', /ES256 needs an EC P-256 key/],
    ['RSA 1024', () => writeKeyFile('rsa-1024', 'pem', dir), 'PS256', /at least 2048 bits/],
  ];
  it.each(cases)('%s', async (_name, file, alg, expected) => {
    const result = await withKey(file(), alg);
    expect(result.ok).toBe(false);
    expect(result.lines.join('\n')).toMatch(/upstreams\.okta\.clients\[0\]\.upstream\.key\.file: /);
    expect(result.lines.join('\n')).toMatch(expected);
  });

  it('one key file under two algs on one upstream is refused (its JWKS entry can carry only one alg)', async () => {
    const rsa = writeKeyFile('rsa-2048', 'pem', dir);
    const path = join(dir, 'two-algs.yaml');
    writeFileSync(
      path,
      minimal(`- { clientId: a, clientSecret: s, upstream: { method: private_key_jwt, alg: RS256, key: { file: "${rsa}" } } }
- { clientId: b, clientSecret: s, upstream: { method: private_key_jwt, alg: PS256, key: { file: "${rsa}" } } }
- { clientId: c, clientSecret: s, upstream: { method: private_key_jwt, alg: RS256, key: { file: "${rsa}" } } }`),
    );
    const result = await validateFile(path, {});
    expect(result.ok).toBe(false);
    expect(result.lines).toEqual([
      `${path}: 2 problem(s)`,
      `  ${PUBLIC_URL_REQUIRED}`,
      '  upstreams.okta.clients[1].upstream.key.file: the same key is used with RS256 at upstreams.okta.clients[0].upstream.key.file; a published key has one alg — use a separate key',
    ]);
  });

  it('a file the schema refuses has its key files checked in the same round', async () => {
    const path = join(dir, 'typo-and-key.yaml');
    const missing = join(dir, 'missing.pem');
    writeFileSync(path, minimal(`- { clientId: b, clientSecert: s, upstream: { method: private_key_jwt, key: { files: ["${missing}"] } } }`));
    expect((await validateFile(path, {})).lines).toEqual([
      `${path}: 2 problem(s)`,
      '  upstreams.okta.clients[0].clientSecert: unknown field; did you mean clientSecret?',
      `  upstreams.okta.clients[0].upstream.key.files[0]: cannot read key file ${missing}: ENOENT`,
    ]);
  });

  it('server.publicUrl is required once an IdP fetches a JWKS, unless authbridge listens on loopback only', async () => {
    const key = writeKeyFile('ec-p256', 'pem', dir);
    const check = async (server: string) => {
      const path = join(dir, `public-url-${Math.random()}.yaml`);
      writeFileSync(path, server + minimal(`- { clientId: b, clientSecret: s, upstream: { method: private_key_jwt, key: { file: "${key}" } } }`));
      return (await validateFile(path, {})).lines.slice(1);
    };
    expect(await check('')).toEqual([`  ${PUBLIC_URL_REQUIRED}`]);
    expect(await check('server: { host: 127.0.0.1 }\n')).toEqual([]);
    expect(await check('server: { publicUrl: https://ab.example.com }\n')).toEqual([]);
    // secret-based methods publish nothing: no publicUrl needed
    expect(problems(minimal('- { clientId: b, upstream: { method: client_secret_basic } }'))).toEqual([]);
  });

  it.each([
    ['ec-p256', 'pem', 'ES256'],
    ['ec-p256', 'jwk', 'ES256'],
    ['rsa-2048', 'pem', 'RS256'],
    ['rsa-2048', 'jwk', 'PS256'],
    ['ed25519', 'pem', 'EdDSA'],
  ] as const)('accepts %s %s for %s', async (kind, format, alg) => {
    expect((await withKey(writeKeyFile(kind, format, dir), alg)).ok).toBe(true);
  });
});

describe('config: the per-address connection cap', () => {
  const cap = (server: string, throttle = '') =>
    connectionAddressCap(
      parseConfig(
        `server: { ${server} }\n${throttle ? `throttle: { ${throttle} }\n` : ''}` + minimal('- { clientId: b, upstream: { method: client_secret_post } }'),
        't',
        {},
      ),
    );
  it('is a quarter of maxConnections by default (at least 1), counting an IPv6 caller as its network of ipv6PrefixLength bits', () => {
    expect(cap('')).toEqual({ max: 256, ipv6PrefixLength: 64 });
    expect(cap('maxConnections: 3', 'ipv6PrefixLength: 56')).toEqual({ max: 1, ipv6PrefixLength: 56 });
    expect(cap('maxConnections: 10, maxConnectionsPerAddress: 10')).toEqual({ max: 10, ipv6PrefixLength: 64 });
  });
  it('behind trusted proxies (forwardedForHops > 0) there is none unless set', () => {
    expect(cap('', 'forwardedForHops: 1')).toBeUndefined();
    expect(cap('maxConnectionsPerAddress: 500', 'forwardedForHops: 2')).toEqual({ max: 500, ipv6PrefixLength: 64 });
  });
});
