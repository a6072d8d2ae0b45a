import { describe, expect, it } from 'vitest';
import { outboundAuthSchema } from '../../../src/config/outbound-schema.js';
import { DEFAULT_INBOUND_METHODS, INBOUND_METHODS, JWT_INBOUND_METHODS } from '../../../src/config/inbound-schema.js';
import {
  AUTO_PREFERENCE,
  METHODS,
  OUTBOUND_METHODS,
  presentsCertificate,
  requiresSecret,
  rowOf,
  type ConfiguredMethod,
} from '../../../src/outbound/methods.js';

const configured = Object.keys(METHODS) as ConfiguredMethod[];

describe('the outbound method table', () => {
  it('has one row per method the schema accepts, and no other', () => {
    const literals = outboundAuthSchema.options.map((o) => o.shape.method.value);
    expect([...literals].sort()).toEqual([...configured].sort());
    expect(OUTBOUND_METHODS).toEqual(configured.filter((m) => m !== 'auto'));
  });

  it("auto's preference comes from autoRank: private_key_jwt > client_secret_jwt > client_secret_basic > client_secret_post", () => {
    expect(AUTO_PREFERENCE).toEqual(['private_key_jwt', 'client_secret_jwt', 'client_secret_basic', 'client_secret_post']);
    const ranks = OUTBOUND_METHODS.map((m) => rowOf(m).autoRank).filter((r) => r !== undefined);
    expect(new Set(ranks).size).toBe(ranks.length); // no two methods share a rank
  });

  it.each(configured)('%s: its columns agree with one another', (method) => {
    const row = rowOf(method);
    if (row.chooses) {
      // the chooser is listed as nothing, ranked nowhere, and does everything only when it fits
      expect(row.listedAs).toBeUndefined();
      expect(row.autoRank).toBeUndefined();
      for (const use of [row.sendsSecret, row.macs, row.signsWithKey]) expect(use).not.toBe('always');
      return;
    }
    expect(row.listedAs).toBeDefined();
    // verify mode is needed exactly when nothing of the caller's (its secret) is what the IdP sees
    expect(row.needsVerify).toBe(!requiresSecret(row));
    if (row.basicHeader) expect(row.sendsSecret).toBe('always');
    if (row.publishesCertificate) expect(row.presentsCertificate).toBe('always');
  });

  it('presentsCertificate: the TLS methods always, private_key_jwt only with tlsCertificate', () => {
    expect(presentsCertificate({ method: 'tls_client_auth' })).toBe(true);
    expect(presentsCertificate({ method: 'self_signed_tls_client_auth' })).toBe(true);
    expect(presentsCertificate({ method: 'private_key_jwt' })).toBe(false);
    expect(presentsCertificate({ method: 'private_key_jwt', tlsCertificate: 'signingKey' })).toBe(true);
    expect(presentsCertificate({ method: 'client_secret_basic' })).toBe(false);
  });
});

describe('the inbound method table', () => {
  it('gives the schema its methods, the default two and the JWT two', () => {
    expect(INBOUND_METHODS).toEqual(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'client_secret_jwt']);
    expect(DEFAULT_INBOUND_METHODS).toEqual(['client_secret_basic', 'client_secret_post']);
    expect(JWT_INBOUND_METHODS).toEqual(['private_key_jwt', 'client_secret_jwt']);
  });
});
