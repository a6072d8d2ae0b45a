import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closeKeys, describeKey, openKey, type OpenContext } from '../../../src/keys/sources/index.js';
import type { SigningKey } from '../../../src/keys/signing-key.js';

const dir = mkdtempSync(join(tmpdir(), 'authbridge-sources-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const path = ['upstreams', 'u', 'clients', 0, 'upstream', 'key'];
const context = (): OpenContext => ({ alg: 'ES256', path, now: Date.now(), algByKid: new Map() });

function keyFile(name: string): string {
  const file = join(dir, name);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return file;
}

describe('openKey: one switch over the key sources', () => {
  it('file: every file opened (the first signs), named by its path', async () => {
    const [a, b] = [keyFile('a.pem'), keyFile('b.pem')];
    const opened = await openKey({ files: [a, b] }, context());
    expect(opened.issues).toEqual([]);
    expect(opened.keys.map((k) => k.alg)).toEqual(['ES256', 'ES256']);
    expect(describeKey({ files: [a, b] })).toBe(a);
    expect(describeKey({ file: a })).toBe(a);
  });

  it('file: a key the same upstream published with another alg is refused at its path', async () => {
    const file = keyFile('c.pem');
    const ctx = context();
    ctx.algByKid.set((await openKey({ file }, ctx)).keys[0]!.kid, { alg: 'ES384', path: 'elsewhere' });
    const opened = await openKey({ file }, ctx);
    expect(opened.issues).toEqual([{ path: 'upstreams.u.clients[0].upstream.key.file', message: expect.stringContaining('used with ES384 at elsewhere') }]);
  });

  it('managed: nothing to open at config load (the store holds it)', async () => {
    expect(await openKey('managed', context())).toEqual({ keys: [], issues: [], warnings: [] });
    expect(describeKey('managed')).toBe('managed');
  });

  it('pkcs11: a module that cannot be loaded is an issue under key.pkcs11, named by the module', async () => {
    const config = { pkcs11: { module: join(dir, 'no-such-module.so'), slot: 0, pin: 'pin-not-logged-4242', keyLabel: 'k' } };
    const opened = await openKey(config, context());
    expect(opened.keys).toEqual([]);
    expect(opened.issues).toHaveLength(1);
    expect(opened.issues[0]!.path).toMatch(/^upstreams\.u\.clients\[0\]\.upstream\.key\.pkcs11(\.module)?$/);
    expect(opened.issues[0]!.message).not.toContain('pin-not-logged-4242');
    expect(describeKey(config)).toBe(`PKCS#11 ${config.pkcs11.module}`);
  });

  it('closeKeys closes what a key holds, and skips managed owners', () => {
    let closed = 0;
    const held = { close: () => void closed++ } as unknown as SigningKey;
    closeKeys([held, 'upstream/owner', {} as SigningKey]);
    expect(closed).toBe(1);
  });
});
