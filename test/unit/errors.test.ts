// One error base, as jose's JOSEError: every error class of src extends AuthbridgeError, and every code it carries
// (or src compares against) is in the one union, ERROR_CODES (answered to callers) + INTERNAL_CODES.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { AuthbridgeError, ERROR_CODES, INTERNAL_CODES, OAuthError, type AnsweredCode, type ErrorCode, type InternalCode } from '../../src/errors.js';
import { KeyLoadError } from '../../src/keys/key-load-error.js';
import { Pkcs11KeyError } from '../../src/keys/pkcs11.js';
import { PromoteTooEarlyError } from '../../src/keys/rotation.js';
import { KekFormatError, KeyDecryptError } from '../../src/keys/seal.js';
import { StoreUnavailableError } from '../../src/store/types.js';
import { DiscoveryError, EndpointMissingError } from '../../src/upstream/discovery.js';
import { UpstreamError } from '../../src/upstream/failure.js';
import { CaBundleError } from '../../src/upstream/trust.js';

const SRC = new URL('../../src/', import.meta.url).pathname;
const sources = (readdirSync(SRC, { recursive: true }) as string[])
  .filter((f) => f.endsWith('.ts'))
  .map((file) => ({ file, text: readFileSync(join(SRC, file), 'utf8') }));

/** Every class declared in src: its name, its parent, whether it is exported. */
const classes = sources.flatMap(({ file, text }) =>
  [...text.matchAll(/^(export )?(?:abstract )?class (\w+)(?:<[^>{]*>)?\s+extends\s+(\w+)/gm)].map((m) => ({
    file,
    name: m[2]!,
    parent: m[3]!,
    exported: !!m[1],
  })),
);
const parentOf = new Map(classes.map((c) => [c.name, c.parent]));
const BUILT_IN_ERRORS = new Set(['Error', 'TypeError', 'RangeError', 'SyntaxError', 'AggregateError']);

/** The class's ancestors inside src, up to the first one declared elsewhere (a built-in, a library's). */
function ancestry(name: string): string[] {
  const chain = [name];
  for (let parent = parentOf.get(name); parent !== undefined; parent = parentOf.get(parent)) chain.push(parent);
  const last = chain.at(-1)!;
  const root = parentOf.get(last);
  return root === undefined ? chain : [...chain, root];
}

/** Codes of Node and jose that src reads on their errors: not authbridge's own. */
const FOREIGN_CODES = new Set(['ERR_TLS', 'ERR_SSL', 'ERR_PARSE_ARGS_UNKNOWN_OPTION', 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE', 'ERR_JWE_DECRYPTION_FAILED']);
const CODES = new Set<string>([...Object.keys(ERROR_CODES), ...Object.keys(INTERNAL_CODES)]);

describe('one error base', () => {
  it('only AuthbridgeError extends a built-in error; every other error class of src extends it', () => {
    expect(classes.filter((c) => BUILT_IN_ERRORS.has(c.parent)).map((c) => `${c.file}: ${c.name}`)).toEqual(['errors.ts: AuthbridgeError']);
    const errorClasses = classes.filter((c) => ancestry(c.name).some((a) => BUILT_IN_ERRORS.has(a)));
    expect(errorClasses.length).toBeGreaterThan(12);
    for (const c of errorClasses) if (c.name !== 'AuthbridgeError') expect(ancestry(c.name), `${c.file}: ${c.name}`).toContain('AuthbridgeError');
  });

  it('each exported error class carries a code of the union and its own name; the Redis errno is errno', () => {
    const errno = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    const errors = {
      ConfigError: new ConfigError('authbridge.yaml', [{ path: 'server.port', message: 'must be a number' }]),
      CaBundleError: new CaBundleError('ca.pem holds no PEM certificate'),
      KeyLoadError: new KeyLoadError('cannot read key file key.pem: ENOENT'),
      Pkcs11KeyError: new Pkcs11KeyError('no token labelled t1', 'tokenLabel'),
      KekFormatError: new KekFormatError('is not base64'),
      KeyDecryptError: new KeyDecryptError('okta/app', 'k1'),
      PromoteTooEarlyError: new PromoteTooEarlyError('okta/app', 'k1', 0),
      StoreUnavailableError: new StoreUnavailableError('getKeySet', { cause: errno }),
      UpstreamError: new UpstreamError('timeout', 'timed out'),
      DiscoveryError: new DiscoveryError('the document has no issuer'),
      EndpointMissingError: new EndpointMissingError('par'),
      OAuthError: new OAuthError(400, 'invalid_request', 'a description', {}, { code: 'ERR_MALFORMED_BODY' }),
    } satisfies Record<string, AuthbridgeError>;
    const exported = classes.filter((c) => c.exported && c.name !== 'AuthbridgeError' && ancestry(c.name).includes('AuthbridgeError'));
    expect(Object.keys(errors).sort()).toEqual(exported.map((c) => c.name).sort());
    for (const [name, err] of Object.entries(errors)) {
      expect(err, name).toBeInstanceOf(AuthbridgeError);
      expect(err.name).toBe(name);
      expect(CODES, name).toContain(err.code);
    }
    expect(errors).toMatchObject({
      ConfigError: { code: 'ERR_CONFIG_INVALID' },
      KeyLoadError: { code: 'ERR_KEY_LOAD' },
      Pkcs11KeyError: { code: 'ERR_PKCS11_KEY', field: 'tokenLabel' },
      StoreUnavailableError: { code: 'ERR_STORE_UNAVAILABLE', errno: 'ECONNREFUSED', op: 'getKeySet' },
      UpstreamError: { code: 'ERR_UPSTREAM_EXCHANGE', kind: 'timeout' },
      EndpointMissingError: { code: 'ERR_ENDPOINT_MISSING', endpoint: 'par' },
    });
    expect(errors.StoreUnavailableError.cause).toBe(errno);
  });

  it('every ERR_ code src names is in the union (or a listed one of Node or jose), and every code of the union is used', () => {
    const named = new Set(sources.flatMap(({ text }) => [...text.matchAll(/'(ERR_[A-Z0-9_]+)'/g)].map((m) => m[1]!)));
    expect([...named].filter((c) => !CODES.has(c) && !FOREIGN_CODES.has(c))).toEqual([]);
    expect([...CODES].filter((c) => !named.has(c))).toEqual([]);
    expect([...FOREIGN_CODES].filter((c) => !named.has(c))).toEqual([]);
  });

  it('the two tables make one union without overlap', () => {
    expectTypeOf<AnsweredCode & InternalCode>().toBeNever();
    expectTypeOf<AnsweredCode | InternalCode>().toEqualTypeOf<ErrorCode>();
    expect(Object.keys(ERROR_CODES).filter((c) => c in INTERNAL_CODES)).toEqual([]);
  });
});
