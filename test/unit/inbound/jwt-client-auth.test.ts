// Inbound assertions (RFC 7523) against a real store: a replay stays refused for as long as the assertion could
// pass the time checks, fractional NumericDates included (RFC 7519 §2), on the memory store (an injected clock)
// and on a real Redis (real time: the record's TTL is Redis's own).
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JWT_BEARER_ASSERTION_TYPE, readCredentials } from '../../../src/inbound/client-auth.js';
import { verifyClientAssertion, type InboundJwtVerifier } from '../../../src/inbound/jwt-client-auth.js';
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
      const store = await RedisStore.connect({ url: redis.url, keyPrefix: redis.keyPrefix, tls: false, sentinelTls: false, commandTimeoutMs: 2000, connectTimeoutMs: 2000 });
      return { store, now: Date.now, at: (ms) => sleep(Math.max(0, ms - Date.now())) };
    },
  ],
];

async function assertion(payload: JWTPayload): Promise<ReturnType<typeof readCredentials>> {
  const jwt = await new SignJWT({ iss: 'hs', sub: 'hs', aud: AUD, jti: randomBytes(12).toString('base64url'), ...payload }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));
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
