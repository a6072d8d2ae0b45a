// The memory store's compact jti records (src/store/memory-jti.ts) against the plain Map they replace: the same
// answers to every claim and read, whatever the record's shape, through growth, expiry, overwrite and sweeps.
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { newJti } from '../../../src/outbound/assertion.js';
import { decodeJti, decodeUuid, encodeUuid } from '../../../src/store/jti-codec.js';
import { JtiRecords } from '../../../src/store/memory-jti.js';
import type { JtiRecord } from '../../../src/store/types.js';

describe('decodeJti / decodeUuid', () => {
  it('decodes every 16-byte base64url jti to its bytes', () => {
    const into = new Uint8Array(16);
    for (let i = 0; i < 2000; i++) {
      const bytes = randomBytes(16);
      expect(decodeJti(bytes.toString('base64url'), into)).toBe(true);
      expect(Buffer.from(into).equals(bytes)).toBe(true);
    }
    expect(decodeJti(newJti(), into)).toBe(true);
  });

  it('refuses any other string: another length, a character outside base64url, bits past the 128th', () => {
    const into = new Uint8Array(16);
    const good = Buffer.alloc(16, 0).toString('base64url'); // 'AAAA…AA'
    expect(decodeJti(good, into)).toBe(true);
    for (const bad of [
      good.slice(1),
      `${good}A`,
      `${good.slice(0, 21)}B`,
      `${good.slice(0, 21)}/`,
      `+${good.slice(1)}`,
      `=${good.slice(1)}`,
      `é${good.slice(1)}`,
      `${good.slice(0, 10)}\u0141${good.slice(11)}`,
      '',
    ])
      expect(decodeJti(bad, into), bad).toBe(false);
  });

  it('decodes a lowercase UUID and formats it back the same; refuses any other string', () => {
    const into = new Uint8Array(16);
    for (let i = 0; i < 2000; i++) {
      const id = randomUUID();
      expect(decodeUuid(id, into)).toBe(true);
      expect(encodeUuid(into)).toBe(id);
    }
    const id = '0a1b2c3d-4e5f-4061-8a7b-9c8d7e6f5a4b';
    for (const bad of [
      id.toUpperCase(),
      id.replace(/-/g, ''),
      `${id}0`,
      id.slice(1),
      id.replace('-', '_'),
      `${id.slice(0, 35)}g`,
      `${id.slice(0, 35)}\u0130`,
      'req-1',
    ])
      expect(decodeUuid(bad, into), bad).toBe(false);
  });
});

describe('JtiRecords', () => {
  /** a fake clock, the records, and the Map semantics the store had (SET NX until expiresAt) as the model */
  function subject(options: { renumberAt?: number } = {}) {
    let now = 1_700_000_000_000;
    const records = new JtiRecords(options);
    const model = new Map<string, JtiRecord>();
    return {
      records,
      advance: (ms: number) => (now += ms),
      now: () => now,
      claim(jti: string, record: JtiRecord) {
        const existing = model.get(jti);
        const expected = !(existing && existing.expiresAt > now);
        if (expected) model.set(jti, record);
        expect(records.claim(jti, record, now), jti).toBe(expected);
      },
      check(jti: string) {
        const existing = model.get(jti);
        expect(records.get(jti, now), jti).toEqual(existing && existing.expiresAt > now ? existing : undefined);
      },
      sweep() {
        records.sweep(now);
        for (const [jti, record] of model) if (record.expiresAt <= now) model.delete(jti);
        // the table drops its expired front; an expired record behind a live one waits (answered as absent meanwhile)
        expect(records.size).toBeGreaterThanOrEqual(model.size);
      },
      model,
    };
  }
  const record = (now: number, o: Partial<JtiRecord> = {}): JtiRecord => ({
    upstream: 'okta',
    clientId: 'svc',
    requestId: randomUUID(),
    issuedAt: now,
    expiresAt: now + 90_000,
    ...o,
  });

  // renumberAt 3 chunks: the entry numbers start again from the first chunk held several times along the way
  it.each([
    ['', {}],
    [', entries renumbered', { renumberAt: 3 * 4096 }],
  ])('answers as the Map did over many records of every shape: growth, expiry, a jti claimed again, sweeps that shrink it%s', (_, options) => {
    const s = subject(options);
    const issued: string[] = [];
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 500; i++) {
        const shape = i % 10;
        const jti = shape === 9 ? `other-${randomBytes(6).toString('hex')}` : newJti();
        const requestId = shape === 8 ? `caller-${i}` : shape === 7 ? randomUUID().toUpperCase() : randomUUID();
        const lifetime = shape === 6 ? 5_000 + i : 90_000;
        s.claim(jti, record(s.now(), { requestId, expiresAt: s.now() + lifetime, upstream: `up-${i % 3}`, clientId: `client-${i % 5}` }));
        issued.push(jti);
      }
      // claims of jtis already issued: refused while live, taken again once expired
      for (let i = 0; i < 50; i++) s.claim(issued[Math.floor(Math.random() * issued.length)]!, record(s.now()));
      for (let i = 0; i < 200; i++) s.check(issued[Math.floor(Math.random() * issued.length)]!);
      s.advance(round < 25 ? 4_000 : 20_000); // the last rounds outrun the records: the sweeps empty it
      if (round % 3 === 0) s.sweep();
    }
    for (const jti of issued) s.check(jti);
    s.advance(200_000);
    s.sweep();
    expect(s.records.size).toBe(0);
    for (const jti of issued.slice(0, 100)) s.check(jti);
  });

  it('keeps a record in the common shape (newJti, a UUID request id) in the compact table, and gives it back exactly', () => {
    const s = subject();
    const jti = newJti();
    const given = record(s.now(), { issuedAt: s.now() + 0.5, expiresAt: s.now() + 60_000.5 });
    s.claim(jti, given);
    expect(s.records.compactSize).toBe(1);
    expect(s.records.get(jti, s.now())).toEqual(given);
    s.claim(`not-${jti}`, record(s.now()));
    s.claim(newJti(), record(s.now(), { requestId: 'from-the-caller' }));
    expect(s.records.compactSize).toBe(1);
    expect(s.records.size).toBe(3);
  });

  it('keeps and sweeps a record that ended before 1970 like any other (no expiry value stands for a dead entry)', () => {
    const s = subject();
    const jti = newJti();
    const ancient = { issuedAt: -1000, expiresAt: -1 };
    s.claim(jti, record(s.now(), ancient)); // expired already: taken, never answered
    s.claim(jti, record(s.now(), ancient)); // expired: taken again
    s.check(jti);
    s.sweep();
    expect(s.records.size).toBe(0);
    s.claim(jti, record(s.now()));
    s.check(jti);
  });

  it('refuses a jti held in one place when claimed with a record that belongs in the other', () => {
    const s = subject();
    const jti = newJti();
    s.claim(jti, record(s.now(), { requestId: 'caller-id' })); // the Map
    s.claim(jti, record(s.now())); // would go to the table: refused, it is live in the Map
    const other = newJti();
    s.claim(other, record(s.now())); // the table
    s.claim(other, record(s.now(), { requestId: 'caller-id' })); // refused, live in the table
    s.advance(90_001);
    s.claim(jti, record(s.now())); // both expired: taken again, now in the table
    s.claim(other, record(s.now(), { requestId: 'caller-id' }));
    s.check(jti);
    s.check(other);
    s.sweep();
    s.check(jti);
    s.check(other);
  });

  it('takes ~50 bytes a record, and gives the memory back once the records have expired; clear() forgets everything', () => {
    const s = subject();
    const empty = s.records.compactBytes;
    for (let i = 0; i < 100_000; i++) s.records.claim(newJti(), record(s.now()), s.now());
    expect(s.records.compactSize).toBe(100_000);
    expect(s.records.compactBytes / 100_000).toBeLessThan(60);
    s.advance(90_000);
    s.sweep();
    expect(s.records.compactBytes).toBe(empty);
    for (let i = 0; i < 3000; i++) s.records.claim(newJti(), record(s.now()), s.now());
    s.records.clear();
    expect(s.records.size).toBe(0);
    expect(s.records.compactBytes).toBe(empty);
  });
});
