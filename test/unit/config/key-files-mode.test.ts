// A private key file others may read is used, with a warning naming the file, its mode and the fix (never the key):
// when the keys are loaded (start, reload, validate), in the start-up log, and in `doctor`. Group-readable is said
// only of a file this process owns: one of another owner is read through its group (Kubernetes' fsGroup, the chart).
import { chmodSync, chownSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runDoctor } from '../../../src/cli/doctor.js';
import { keyFileEntries, loadKeyFile } from '../../../src/keys/key-files.js';
import { validateConfig } from '../../../src/config/load.js';
import { loadConfigKeys } from '../../../src/keys/keyring.js';
import { closedPort, startBridge, type Bridge } from '../../support/bridge.js';
import { writeKeyFile } from '../../support/keys.js';
import { makeClientCertificate } from '../../support/mtls-idp.js';

const dir = mkdtempSync(join(tmpdir(), 'authbridge-key-mode-'));
const KEY_PATH = 'upstreams.idp.clients[0].upstream.key.file';
let pem: string;
let keyLine: string; // a line of the key's base64, which no message may hold

beforeAll(() => {
  pem = readFileSync(writeKeyFile('ec-p256', 'pem', dir), 'utf8');
  keyLine = pem.split('\n')[1]!;
});

/** A copy of the test key with `mode`. */
function keyWithMode(mode: number, name = `key-${mode.toString(8)}-${Math.random().toString(36).slice(2)}.pem`): string {
  const file = join(dir, name);
  writeFileSync(file, pem);
  chmodSync(file, mode);
  return file;
}

const warningsOf = async (file: string) =>
  (await loadKeyFile(keyFileEntries({ file }, ['upstreams', 'idp', 'clients', 0, 'upstream', 'key'])[0]!, 'ES256')).warnings;

describe('loading a key file', () => {
  const modes = (...list: number[]) => list.map((mode) => ({ mode, octal: `0${mode.toString(8)}` }));
  it.each(modes(0o644, 0o604, 0o640))('mode $octal: a warning with the file, its mode and the fix; the key is still loaded', async ({ mode }) => {
    const file = keyWithMode(mode);
    const loaded = await loadKeyFile(keyFileEntries({ file }, ['upstreams', 'idp', 'clients', 0, 'upstream', 'key'])[0]!, 'ES256');
    expect(loaded.key?.kid).toBeDefined();
    expect(loaded.issues).toEqual([]);
    expect(loaded.warnings).toEqual([{ path: KEY_PATH, message: expect.stringContaining(`private key file ${file} is readable by`) }]);
    const { message } = loaded.warnings[0]!;
    expect(message).toContain(`(mode 0${mode.toString(8)})`);
    expect(message).toContain(`chmod 600 ${file}`);
    expect(message).toContain('defaultMode: 0400');
    expect(message).not.toContain(keyLine);
  });

  it.each(modes(0o600, 0o400))('mode $octal: no warning', async ({ mode }) => {
    expect(await warningsOf(keyWithMode(mode))).toEqual([]);
  });

  // the chart's mount: root-owned, 0440, read through the pod's fsGroup (chown needs root)
  it.skipIf(process.getuid?.() !== 0)('group-readable but owned by another user: no warning; readable by anyone still warns', async () => {
    const file = keyWithMode(0o440);
    chownSync(file, 4242, process.getgid!());
    expect(await warningsOf(file)).toEqual([]);
    chmodSync(file, 0o444);
    expect(await warningsOf(file)).toHaveLength(1);
  });

  it("a TLS client certificate's key file (RFC 8705) is warned about too", async () => {
    const cert = await makeClientCertificate({ subject: 'CN=mode' });
    const key = join(dir, 'tls.key.pem');
    writeFileSync(key, cert.keyPem, { mode: 0o644 });
    chmodSync(key, 0o644);
    const certificate = join(dir, 'tls.crt');
    writeFileSync(certificate, cert.certPem);
    const config = validateConfig(
      {
        upstreams: {
          idp: {
            issuer: 'https://idp.example',
            clients: [{ clientId: 'c', clientSecret: 's', upstream: { method: 'tls_client_auth', key: { file: key, certificate } } }],
          },
        },
      },
      'test',
    );
    const { warnings } = await loadConfigKeys(config, 'test');
    expect(warnings.filter((w) => w.path === KEY_PATH)).toEqual([
      { path: KEY_PATH, message: expect.stringContaining(`private key file ${key} is readable by every user of this host (mode 0644)`) },
    ]);
  });
});

describe('start and doctor', () => {
  let bridge: Bridge | undefined;
  afterEach(async () => {
    await bridge?.stop();
    bridge = undefined;
  });

  const config = async (file: string) => ({
    upstreams: {
      idp: {
        issuer: `http://127.0.0.1:${await closedPort()}`,
        tokenEndpoint: `http://127.0.0.1:${await closedPort()}/token`,
        clients: [{ clientId: 'c', clientSecret: 's', upstream: { method: 'private_key_jwt', key: { file } } }],
      },
    },
  });

  it('start logs the warning at warn level, naming the path and the file; 0600 starts without it', async () => {
    const open = keyWithMode(0o644);
    bridge = await startBridge(await config(open));
    const lines = bridge.capture.lines as { level: string; msg: string; path?: string }[];
    expect(lines.filter((l) => l.level === 'warn' && l.path === KEY_PATH)).toEqual([
      expect.objectContaining({ msg: expect.stringMatching(/^private key file .* \(mode 0644\): chmod 600 /) }),
    ]);
    expect(bridge.logs.join('\n')).not.toContain(keyLine);
    await bridge.stop();

    bridge = await startBridge(await config(keyWithMode(0o600)));
    expect(bridge.logs.filter((l) => l.includes('readable by'))).toEqual([]);
  });

  it('doctor shows it as a key warning of the client', async () => {
    const file = join(dir, 'doctor.yaml');
    const key = keyWithMode(0o644);
    const c = await config(key);
    writeFileSync(file, JSON.stringify({ server: { host: '127.0.0.1', port: 0 }, ...c }));
    const report = await runDoctor(file);
    const checks = report.upstreams[0]!.checks.filter((x) => x.check === 'key' && x.client === 'c');
    expect(checks.map((x) => x.status)).toEqual(['ok', 'warn']);
    expect(checks[1]!.detail).toBe(
      `${KEY_PATH}: private key file ${key} is readable by every user of this host (mode 0644): chmod 600 ${key}; on Kubernetes mount its Secret with defaultMode: 0400 (0440 with the pod's fsGroup, as the chart does)`,
    );
  });
});
