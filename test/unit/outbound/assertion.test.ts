import { jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { mintAssertion, newJti, type AssertionSpec } from '../../../src/outbound/assertion.js';
import type { OutboundContext } from '../../../src/outbound/types.js';
import type { AssertionSettings } from '../../../src/config/outbound-settings.js';
import { OAuthError } from '../../../src/errors.js';
import { hmacSigner } from '../../../src/keys/node-signer.js';
import { MemoryStore } from '../../../src/store/memory.js';
import type { JtiRecord, Store } from '../../../src/store/types.js';

const SECRET = Buffer.from('k'.repeat(32), 'utf8');
const KEY = hmacSigner(SECRET, 'HS256');
const CONTEXT: OutboundContext = {
  tokenEndpoint: 'https://idp.example.com/token',
  endpoint: 'https://idp.example.com/token',
  presentedSecret: 'unused',
  requestId: 'req-42',
};
const SETTINGS: AssertionSettings = {
  alg: 'HS256',
  audience: 'issuer',
  ttlSeconds: 60,
  header: { typ: 'JWT', kid: 'none', x5t: false, x5tS256: false, x5c: false },
  clockSkewSeconds: 0,
};
const HEADER = { alg: 'HS256' };

const specWith = (store: Store): AssertionSpec => ({
  upstream: 'idp',
  clientId: 'client-1',
  issuer: 'https://idp.example.com',
  settings: SETTINGS,
  store,
});

/** A real MemoryStore that answers "already taken" to the first `refusals` claims. */
class CollidingStore extends MemoryStore {
  readonly claimed: string[] = [];
  readonly #refusals: number;
  constructor(refusals: number) {
    super();
    this.#refusals = refusals;
  }
  override async claimJti(jti: string, record: JtiRecord): Promise<boolean> {
    this.claimed.push(jti);
    if (this.claimed.length <= this.#refusals) return false;
    return super.claimJti(jti, record);
  }
}

async function jtiOf(assertion: string): Promise<string> {
  return (await jwtVerify(assertion, SECRET, { algorithms: ['HS256'] })).payload.jti!;
}

describe('mintAssertion: jti collisions', () => {
  it('mints with a new jti after one collision, and that jti is the one recorded', async () => {
    const store = new CollidingStore(1);
    const jti = await jtiOf(await mintAssertion(specWith(store), KEY, HEADER, CONTEXT));
    expect(store.claimed).toHaveLength(2);
    expect(jti).toBe(store.claimed[1]);
    expect(jti).not.toBe(store.claimed[0]);
    expect(await store.getJti(jti)).toMatchObject({ upstream: 'idp', clientId: 'client-1', requestId: 'req-42' });
    expect(await store.getJti(store.claimed[0]!)).toBeUndefined();
    await store.close();
  });

  it('still succeeds on the third attempt after two collisions', async () => {
    const store = new CollidingStore(2);
    const jti = await jtiOf(await mintAssertion(specWith(store), KEY, HEADER, CONTEXT));
    expect(store.claimed).toHaveLength(3);
    expect(jti).toBe(store.claimed[2]);
    expect(await store.getJti(jti)).toBeDefined();
    await store.close();
  });

  it('gives up with server_error after three collisions in a row', async () => {
    const store = new CollidingStore(3);
    const err = await mintAssertion(specWith(store), KEY, HEADER, CONTEXT).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthError);
    expect(err).toMatchObject({ status: 500, error: 'server_error' });
    expect(store.claimed).toHaveLength(3);
    expect(store.size).toBe(0);
    await store.close();
  });

  it('fails closed when the store cannot record the jti', async () => {
    const failure = new Error('store down');
    const store = new (class extends MemoryStore {
      override async claimJti(): Promise<boolean> {
        throw failure;
      }
    })();
    await expect(mintAssertion(specWith(store), KEY, HEADER, CONTEXT)).rejects.toBe(failure);
    await store.close();
  });

  it('records the jti before the assertion is handed out', async () => {
    const store = new MemoryStore();
    const jti = await jtiOf(await mintAssertion(specWith(store), KEY, HEADER, CONTEXT));
    expect(store.size).toBe(1);
    const record = (await store.getJti(jti))!;
    expect(record.expiresAt - record.issuedAt).toBe((60 + 30) * 1000);
    await store.close();
  });
});

describe('newJti', () => {
  it('is 16 random bytes in base64url: 22 characters', () => {
    const jti = newJti();
    expect(jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(Buffer.from(jti, 'base64url')).toHaveLength(16);
  });

  it('does not repeat over 1000 calls', () => {
    const jtis = Array.from({ length: 1000 }, newJti);
    expect(jtis.every((j) => j.length === 22)).toBe(true);
    expect(new Set(jtis).size).toBe(1000);
  });
});

describe('mintAssertion: the jti record and the signature at once', () => {
  it('signs while the store records the jti, and hands the assertion out only once the record is written', async () => {
    const events: string[] = [];
    let written!: () => void;
    const store = new (class extends MemoryStore {
      override async claimJti(jti: string, record: JtiRecord): Promise<boolean> {
        events.push('record sent');
        await new Promise<void>((resolve) => (written = resolve));
        events.push('record written');
        return super.claimJti(jti, record);
      }
    })();
    const signer = { alg: 'HS256' as const, sign: async (data: Uint8Array) => (events.push('signed'), KEY.sign(data)) };
    const minted = mintAssertion(specWith(store), signer, HEADER, CONTEXT).then((a) => (events.push('handed out'), a));
    await expect.poll(() => events).toEqual(['record sent', 'signed']); // the signature did not wait for the store
    written();
    const jti = await jtiOf(await minted);
    expect(events).toEqual(['record sent', 'signed', 'record written', 'handed out']);
    expect(await store.getJti(jti)).toBeDefined();
    await store.close();
  });
});
