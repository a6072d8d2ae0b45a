// Inbound assertions (RFC 7523): each verification rule (alg allow-list, key selection, claims, replay), and,
// against a real store, a replay stays refused for as long as the assertion could
// pass the time checks, fractional NumericDates included (RFC 7519 §2), on the memory store (an injected clock)
// and on a real Redis (real time: the record's TTL is Redis's own).
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CompactSign, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JWT_BEARER_ASSERTION_TYPE, readCredentials, type PresentedCredentials } from '../../../src/inbound/client-auth.js';
import { verifyClientAssertion, type InboundJwtVerifier } from '../../../src/inbound/jwt-client-auth.js';
import { ALG_SPECS, SIGNING_ALGS } from '../../../src/config/algs.js';
import { generateKeyForSync } from '../../../src/keys/alg-keys.js';
import { signCompactJws } from '../../../src/keys/signer.js';
import { importSigningKey } from '../../../src/keys/signing-key.js';
import { OAuthError } from '../../../src/errors.js';
import { MemoryStore } from '../../../src/store/memory.js';
import { RedisStore } from '../../../src/store/redis.js';
import type { Store } from '../../../src/store/types.js';
import { redisForTests, type RedisServer } from '../../support/redis.js';

const SECRET = 'inbound-hs256-secret-0123456789abcdef';
const AUD = 'https://authbridge.test/idp';

/** A store and its clock: `at(ms)` makes it that time (the injected clock moves; real time is waited for). */
interface Clocked {
  store: Store;
  now(): number;
  at(ms: number): Promise<void>;
}

let redis: RedisServer;
beforeAll(async () => {
  redis = await redisForTests();
});
afterAll(async () => {
  await redis?.close();
});

const stores: [string, number[], () => Promise<Clocked>][] = [
  [
    'memory (injected clock)',
    [0, 30],
    async () => {
      let now = Math.floor(Date.now() / 1000) * 1000;
      return { store: new MemoryStore({ now: () => now }), now: () => now, at: async (ms) => void (now = ms) };
    },
  ],
  [
    'redis (real time)',
    [0], // a skew of 30 would mean waiting 30 s
    async () => {
      const store = await RedisStore.connect({
        url: redis.url,
        keyPrefix: redis.keyPrefix,
        tls: false,
        sentinelTls: false,
        commandTimeoutMs: 2000,
        connectTimeoutMs: 2000,
      });
      return { store, now: Date.now, at: (ms) => sleep(Math.max(0, ms - Date.now())) };
    },
  ],
];

async function assertion(payload: JWTPayload): Promise<ReturnType<typeof readCredentials>> {
  const jwt = await new SignJWT({ iss: 'hs', sub: 'hs', aud: AUD, jti: randomBytes(12).toString('base64url'), ...payload })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(new TextEncoder().encode(SECRET));
  return readCredentials(undefined, new URLSearchParams({ client_assertion_type: JWT_BEARER_ASSERTION_TYPE, client_assertion: jwt }));
}

/** The code of the refusal, or `accepted`. */
async function outcome(clocked: Clocked, presented: ReturnType<typeof readCredentials>, verifier: InboundJwtVerifier): Promise<string> {
  try {
    await verifyClientAssertion(presented, 'hs', verifier, { upstream: 'idp', audiences: [AUD], store: clocked.store, now: clocked.now() });
    return 'accepted';
  } catch (err) {
    if (err instanceof OAuthError) return err.code;
    throw err;
  }
}

describe.each(stores)('a replayed assertion with a fractional exp, on the %s store', (_name, skews, make) => {
  let clocked: Clocked;
  beforeAll(async () => {
    clocked = await make();
  });
  afterAll(async () => {
    await clocked?.store.close();
  });

  describe.each(skews)('clock skew %d s', (skew) => {
    const verifier: InboundJwtVerifier = { secret: SECRET, maxLifetimeSeconds: 300, clockSkewSeconds: skew };

    // exp = E + fraction (E a whole second ahead). checkClaims takes the whole second of now and passes while
    // exp > now - skew: up to the last millisecond before E + 1 + skew. The record must last that long too; before
    // the fix it ended at exp + skew, and a replay in the fraction's remainder of that second was accepted.
    it.each([0.01, 0.5, 0.9])('exp = E + %s: refused as a replay up to the second it is refused as expired', async (fraction) => {
      const E = Math.floor(clocked.now() / 1000) + 1;
      const presented = await assertion({ iat: E - 1, exp: E + fraction });
      expect(await outcome(clocked, presented, verifier)).toBe('accepted');
      await clocked.at((E + skew + (fraction + 1) / 2) * 1000); // past exp + skew, within its second
      expect(await outcome(clocked, presented, verifier)).toBe('ERR_ASSERTION_REPLAYED');
      await clocked.at((E + skew + 1) * 1000);
      expect(await outcome(clocked, presented, verifier)).toBe('ERR_ASSERTION_EXPIRED');
    });

    it('a whole-second exp: the record lasts exactly until the assertion expires', async () => {
      const E = Math.floor(clocked.now() / 1000) + 1;
      const presented = await assertion({ iat: E - 1, exp: E });
      expect(await outcome(clocked, presented, verifier)).toBe('accepted');
      await clocked.at((E + skew) * 1000 - 200);
      expect(await outcome(clocked, presented, verifier)).toBe('ERR_ASSERTION_REPLAYED');
      await clocked.at((E + skew) * 1000);
      expect(await outcome(clocked, presented, verifier)).toBe('ERR_ASSERTION_EXPIRED');
    });
  });
});

// Each verification rule on its own: one valid assertion, and per case one thing about it broken. Every refusal
// is checked against its code, and the valid assertion next to it passes, so a case fails if its rule is dropped.
describe('verifyClientAssertion: the rules', () => {
  const NOW = 1_800_000_000; // seconds
  const SKEW = 30;
  const MAX = 300;
  const OTHER_AUD = 'https://authbridge.test/other/token';
  let a: KeyPair;
  let b: KeyPair;
  let keys: InboundJwtVerifier;
  const hmac: InboundJwtVerifier = { secret: SECRET, maxLifetimeSeconds: MAX, clockSkewSeconds: SKEW };
  const store = new MemoryStore({ now: () => NOW * 1000 });
  afterAll(() => store.close());

  beforeAll(async () => {
    [a, b] = await Promise.all([keyPair('a'), keyPair('b')]);
    keys = { keys: { local: { keys: [a.jwk, b.jwk] } }, maxLifetimeSeconds: MAX, clockSkewSeconds: SKEW };
  });

  /** claims that pass every rule; a fresh jti each time */
  const valid = (): JWTPayload => ({ iss: 'pk', sub: 'pk', aud: AUD, iat: NOW - 10, exp: NOW + 60, jti: randomBytes(12).toString('base64url') });
  const withClaims = (changes: Record<string, unknown>): JWTPayload => {
    const claims: Record<string, unknown> = { ...valid(), ...changes };
    for (const [k, v] of Object.entries(changes)) if (v === undefined) delete claims[k];
    return claims;
  };
  const signed = (claims: JWTPayload, header: JWTHeaderParameters, key: CryptoKey | Uint8Array) => new SignJWT(claims).setProtectedHeader(header).sign(key);
  /** signed with `key` (a's by default), the header naming `kid` (a; null: no kid) */
  const es256 = (claims: JWTPayload, kid: string | null = 'a', key = a.privateKey) => signed(claims, { alg: 'ES256', ...(kid !== null && { kid }) }, key);
  const hs = (claims: JWTPayload, alg = 'HS256', secret = SECRET) => signed(claims, { alg }, new TextEncoder().encode(secret));

  /** The code of the refusal, or `accepted`; the client is `pk`, whatever the assertion says. */
  async function verdict(jwt: string, verifier: InboundJwtVerifier, presentedAs?: Partial<PresentedCredentials>, upstream = 'idp'): Promise<string> {
    // as readCredentials reads it, unless the test says how it was presented (what readCredentials would refuse)
    const presented: PresentedCredentials = presentedAs?.alg
      ? { method: 'private_key_jwt', clientId: 'pk', secret: '', assertion: jwt, ...presentedAs }
      : { ...readCredentials(undefined, new URLSearchParams({ client_assertion_type: JWT_BEARER_ASSERTION_TYPE, client_assertion: jwt })), ...presentedAs };
    try {
      await verifyClientAssertion(presented, 'pk', verifier, { upstream, audiences: [AUD, OTHER_AUD], store, now: NOW * 1000 });
      return 'accepted';
    } catch (err) {
      if (err instanceof OAuthError) return err.code;
      throw err;
    }
  }

  it('the valid assertion passes, signed with a key of the client (private_key_jwt) or its secret (client_secret_jwt)', async () => {
    expect(await verdict(await es256(valid()), keys)).toBe('accepted');
    expect(await verdict(await hs(valid()), hmac)).toBe('accepted');
  });

  describe('alg allow-list', () => {
    it('private_key_jwt: an HMAC alg is refused even when the client set holds a symmetric key that verifies it', async () => {
      const oct = { kty: 'oct', kid: 'o', k: Buffer.from(SECRET).toString('base64url') };
      const withOct: InboundJwtVerifier = { ...keys, keys: { local: { keys: [a.jwk, oct] } } };
      const jwt = await signed(valid(), { alg: 'HS256', kid: 'o' }, new TextEncoder().encode(SECRET));
      expect(await verdict(jwt, withOct, { method: 'private_key_jwt' })).toBe('ERR_ASSERTION_ALG');
    });
    it('client_secret_jwt: an HMAC alg whose key length the secret does not reach is refused (HS512 needs 64 bytes)', async () => {
      expect(Buffer.byteLength(SECRET)).toBeLessThan(64);
      expect(await verdict(await hs(valid(), 'HS512'), hmac)).toBe('ERR_ASSERTION_ALG');
      expect(await verdict(await hs(valid(), 'HS512', SECRET.repeat(2)), { ...hmac, secret: SECRET.repeat(2) })).toBe('accepted');
    });
    it('private_key_jwt: every alg authbridge signs with outbound is accepted inbound (its own signer, its published JWK)', async () => {
      const rsa = generateKeyForSync('RS256'); // one RSA key for the RS and PS algs: generating one is slow
      for (const alg of SIGNING_ALGS) {
        const privateKey = ALG_SPECS[alg].kty === 'RSA' ? rsa : generateKeyForSync(alg);
        const key = await importSigningKey(String(privateKey.export({ format: 'pem', type: 'pkcs8' })), alg);
        const jwt = await signCompactJws(key.signer, { alg, kid: key.kid }, valid());
        expect(await verdict(jwt, { ...keys, keys: { local: { keys: [{ ...key.publicJwk }] } } }), alg).toBe('accepted');
      }
    });
    it('client_secret_jwt: a non-HMAC alg is refused', async () => {
      expect(await verdict(await es256(valid()), hmac, { method: 'client_secret_jwt' })).toBe('ERR_ASSERTION_ALG');
    });
  });

  describe('kid and key selection', () => {
    it('the kid picks the key among several of the same alg', async () => {
      expect(await verdict(await es256(valid(), 'b', b.privateKey), keys)).toBe('accepted');
    });
    it('a kid naming another key than the one that signed: signature refused', async () => {
      expect(await verdict(await es256(valid(), 'a', b.privateKey), keys)).toBe('ERR_ASSERTION_SIGNATURE');
    });
    it('an unknown kid, no kid with several candidate keys, or no keys at all: unknown key', async () => {
      expect(await verdict(await es256(valid(), 'zz'), keys)).toBe('ERR_ASSERTION_UNKNOWN_KEY');
      expect(await verdict(await es256(valid(), null), keys)).toBe('ERR_ASSERTION_UNKNOWN_KEY');
      expect(await verdict(await es256(valid(), null), { ...keys, keys: { local: { keys: [a.jwk] } } })).toBe('accepted');
      expect(await verdict(await es256(valid()), { maxLifetimeSeconds: MAX, clockSkewSeconds: SKEW })).toBe('ERR_ASSERTION_UNKNOWN_KEY');
    });
    it('the wrong secret: signature refused', async () => {
      expect(await verdict(await hs(valid(), 'HS256', `${SECRET}-other`), hmac)).toBe('ERR_ASSERTION_SIGNATURE');
    });
  });

  // [what, claims changed, expected]: each row breaks (or just keeps to) one rule of a valid assertion
  const claimCases: [string, Record<string, unknown>, string][] = [
    ['iss another client', { iss: 'other' }, 'ERR_ASSERTION_ISSUER'],
    ['sub another client', { sub: 'other' }, 'ERR_ASSERTION_ISSUER'],
    ['aud another URL', { aud: 'https://authbridge.test/elsewhere' }, 'ERR_ASSERTION_AUDIENCE'],
    ['aud missing', { aud: undefined }, 'ERR_ASSERTION_AUDIENCE'],
    ['aud the other accepted URL', { aud: OTHER_AUD }, 'accepted'],
    ['aud an array holding an accepted URL', { aud: ['https://x.example', AUD] }, 'accepted'],
    ['aud an array of more than 20 holding one', { aud: [...Array.from({ length: 20 }, (_, i) => `https://x${i}.example`), AUD] }, 'ERR_ASSERTION_AUDIENCE'],
    ['exp missing', { exp: undefined }, 'ERR_ASSERTION_EXPIRED'],
    ['exp not a number', { exp: String(NOW + 60) }, 'ERR_ASSERTION_EXPIRED'],
    ['exp at now - skew', { exp: NOW - SKEW }, 'ERR_ASSERTION_EXPIRED'],
    ['exp a second after now - skew', { exp: NOW - SKEW + 1 }, 'accepted'],
    ['iat past now + skew', { iat: NOW + SKEW + 1 }, 'ERR_ASSERTION_TIMING'],
    ['iat at now + skew', { iat: NOW + SKEW }, 'accepted'],
    ['iat not a number', { iat: 'yesterday' }, 'ERR_ASSERTION_TIMING'],
    ['nbf past now + skew', { nbf: NOW + SKEW + 1 }, 'ERR_ASSERTION_TIMING'],
    ['nbf at now + skew', { nbf: NOW + SKEW }, 'accepted'],
    ['exp - iat over the maximum lifetime', { iat: NOW - 10, exp: NOW - 10 + MAX + 1 }, 'ERR_ASSERTION_LIFETIME'],
    ['exp - iat at the maximum lifetime', { iat: NOW - 10, exp: NOW - 10 + MAX }, 'accepted'],
    ['no iat: exp - nbf over the maximum lifetime', { iat: undefined, nbf: NOW - 10, exp: NOW - 10 + MAX + 1 }, 'ERR_ASSERTION_LIFETIME'],
    ['no iat nor nbf: exp - now over the maximum lifetime', { iat: undefined, exp: NOW + MAX + 1 }, 'ERR_ASSERTION_LIFETIME'],
    ['no iat nor nbf: exp - now at the maximum lifetime', { iat: undefined, exp: NOW + MAX }, 'accepted'],
    ['jti missing', { jti: undefined }, 'ERR_ASSERTION_INVALID'],
    ['jti empty', { jti: '' }, 'ERR_ASSERTION_INVALID'],
    ['jti over 256 characters', { jti: `${randomBytes(8).toString('hex')}${'j'.repeat(241)}` }, 'ERR_ASSERTION_INVALID'],
    ['jti of 256 characters', { jti: `${randomBytes(8).toString('hex')}${'j'.repeat(240)}` }, 'accepted'],
  ];
  it.each(claimCases)('%s: %j -> %s', async (_what, changes, expected) => {
    expect(await verdict(await hs(withClaims(changes)), hmac)).toBe(expected);
  });

  it('a payload that is not a JSON object is refused once the signature is verified', async () => {
    const jwt = await new CompactSign(new TextEncoder().encode('[1]')).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));
    expect(await verdict(jwt, hmac, { method: 'client_secret_jwt', alg: 'HS256' })).toBe('ERR_ASSERTION_INVALID');
  });

  describe('replay', () => {
    it('the same assertion twice: the second is refused, on this upstream only', async () => {
      const jwt = await hs(valid());
      expect(await verdict(jwt, hmac)).toBe('accepted');
      expect(await verdict(jwt, hmac)).toBe('ERR_ASSERTION_REPLAYED');
      expect(await verdict(jwt, hmac, undefined, 'another-upstream')).toBe('accepted');
    });
    it('a new assertion reusing a jti is refused too', async () => {
      const jti = randomBytes(12).toString('base64url');
      expect(await verdict(await es256(withClaims({ jti })), keys)).toBe('accepted');
      expect(await verdict(await es256(withClaims({ jti, iat: NOW - 5 })), keys)).toBe('ERR_ASSERTION_REPLAYED');
    });
    it('a refused assertion does not use up its jti', async () => {
      const jti = randomBytes(12).toString('base64url');
      expect(await verdict(await hs(withClaims({ jti, aud: 'https://elsewhere.example' })), hmac)).toBe('ERR_ASSERTION_AUDIENCE');
      expect(await verdict(await hs(withClaims({ jti })), hmac)).toBe('accepted');
    });
  });
});

interface KeyPair {
  privateKey: CryptoKey;
  jwk: JWK;
}

async function keyPair(kid: string): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256' } };
}
