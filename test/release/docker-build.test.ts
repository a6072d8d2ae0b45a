// The Dockerfile "in spirit", without a Docker engine: its build stage is replayed in a temp dir (the
// context files its COPY lines name, filtered by .dockerignore; its RUN commands without BuildKit
// flags), the runtime stage's COPY --from=build artifacts are assembled in a second dir, and that
// tree must run read-only, without devDependencies. USER/EXPOSE/HEALTHCHECK/ENTRYPOINT/CMD are checked
// for form (the healthcheck script with `node --check`).
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/helm.js';

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  name: string;
  from: string;
  body: Instruction[];
}

/** FROM-separated stages; comment lines dropped, `\` continuations joined, global ARG defaults substituted. */
function parseDockerfile(text: string): Stage[] {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw)) continue;
    const line = raw.trimEnd();
    if (line.endsWith('\\')) pending += `${line.slice(0, -1)} `;
    else if ((pending + line).trim()) lines.push((pending + line).trim()), (pending = '');
  }
  const globals: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = op.toUpperCase();
    if (upper === 'ARG' && stages.length === 0) {
      const [name = '', value = ''] = args.split('=');
      globals[name] = value;
    } else if (upper === 'FROM') {
      const [, image = '', name = ''] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ name, from: image.replace(/\$\{(\w+)\}/g, (_, v: string) => globals[v] ?? ''), body: [] });
    } else {
      stages.at(-1)!.body.push({ op: upper, args });
    }
  }
  return stages;
}

/** .dockerignore semantics: paths relative to the context; a pattern matches a path or any of its parents; last match wins. */
function dockerignore(text: string): (rel: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+/, '').replace(/\/+$/, '');
      const source = pattern
        .split(/(\*\*\/|\/\*\*$|\*\*|\*|\?)/)
        .map((t) => ({ '**/': '(?:.*/)?', '/**': '(?:/.*)?', '**': '.*', '*': '[^/]*', '?': '[^/]' })[t] ?? t.replace(/[.+^${}()|[\]\\]/g, '\\$&'))
        .join('');
      return { negate, re: new RegExp(`^${source}$`) };
    });
  return (rel) => {
    const parts = rel.split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const { negate, re } of rules) if (candidates.some((c) => re.test(c))) excluded = !negate;
    return excluded;
  };
}

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfile);
const build = stages.find((s) => s.name === 'build');
const runtime = stages.at(-1)!;
const ignored = dockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const dirs = { build: '', runtime: '' };
const contextCopies: string[] = [];

/** Container path under the stage's WORKDIR /app → the temp dir standing in for it. */
function hostPath(root: string, containerPath: string): string {
  const abs = containerPath.startsWith('/') ? containerPath : `/app/${containerPath}`;
  if (!abs.startsWith('/app/') && abs !== '/app') throw new Error(`the test maps only /app, not ${containerPath}`);
  return join(root, abs.slice('/app'.length));
}

/** COPY semantics: a directory's contents go into dest; a file goes into dest/ (dest ending in `/`, or several sources) or becomes dest. */
function copyFromContext(source: string, dest: string, intoDir: boolean): void {
  const rel = source.replace(/^\.\//, '').replace(/\/+$/, '');
  if (ignored(rel)) throw new Error(`COPY ${source}: excluded by .dockerignore (docker build would fail)`);
  const walk = (from: string, to: string) => {
    const relPath = relative(ROOT, from);
    if (ignored(relPath)) return;
    if (statSync(from).isDirectory()) {
      mkdirSync(to, { recursive: true });
      for (const entry of readdirSync(from)) walk(join(from, entry), join(to, entry));
    } else {
      cpSync(from, to);
      contextCopies.push(relPath);
    }
  };
  const from = join(ROOT, rel);
  walk(from, !statSync(from).isDirectory() && intoDir ? join(dest, basename(rel)) : dest);
}

/** Runs a shell command like `RUN` does (sh -c), asynchronously so the worker stays responsive; rejects with the output tail. */
function sh(command: string, cwd: string): Promise<void> {
  // the environment of a fresh build container: no NODE_ENV/VITEST from the test runner; npm's own config and cache kept
  const keep = [
    'PATH',
    'HOME',
    'TMPDIR',
    'LANG',
    'HTTP_PROXY',
    'HTTPS_PROXY',
    'NO_PROXY',
    'http_proxy',
    'https_proxy',
    'no_proxy',
    'NPM_CONFIG_REGISTRY',
    'npm_config_registry',
  ];
  const env = Object.fromEntries(keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]!]));
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { cwd, env: { ...env, npm_config_update_notifier: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`RUN ${command} exited ${code}:\n${output.slice(-4000)}`))));
  });
}

const runtimeEnv = (): Record<string, string> => {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: join(dirs.runtime, 'nonexistent-home') };
  for (const { args } of runtime.body.filter((i) => i.op === 'ENV'))
    for (const [, k, v] of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[k!] = v!.replace(/^"|"$/g, '');
  return env;
};
const node = (args: string[]) => spawnSync(process.execPath, args, { cwd: dirs.runtime, env: runtimeEnv(), encoding: 'utf8', timeout: 60_000 });

function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      const st = statSync(p, { throwIfNoEntry: false });
      out.push(`${relative(dir, p)} ${st?.size ?? 'dangling'} ${st?.mtimeMs ?? ''}`);
      if (entry.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

beforeAll(async () => {
  if (!build) throw new Error('the Dockerfile has no stage named "build"');
  dirs.build = mkdtempSync(join(tmpdir(), 'authbridge-docker-build-'));
  dirs.runtime = mkdtempSync(join(tmpdir(), 'authbridge-docker-runtime-'));
  for (const { op, args } of build.body) {
    if (op === 'WORKDIR') expect(args).toBe('/app');
    if (op === 'COPY') {
      expect(args, 'build-stage COPY takes files from the context only').not.toMatch(/^--from/);
      const parts = args.replace(/^(?:--\S+\s+)+/, '').split(/\s+/);
      const rawDest = parts.pop()!;
      for (const source of parts) copyFromContext(source, hostPath(dirs.build, rawDest), rawDest.endsWith('/') || parts.length > 1);
    }
    if (op === 'RUN') await sh(args.replace(/^(?:--\S+\s+)+/, ''), dirs.build);
  }
  for (const { args } of runtime.body.filter((i) => i.op === 'COPY')) {
    const [from, source, dest] = args.split(/\s+/);
    expect(from, `runtime COPY ${args} must copy from the build stage`).toBe('--from=build');
    const target = hostPath(dirs.runtime, dest!);
    mkdirSync(dirname(target), { recursive: true });
    cpSync(hostPath(dirs.build, source!), target, { recursive: true, verbatimSymlinks: true });
  }
}, 480_000);

afterAll(() => {
  for (const dir of Object.values(dirs).filter(Boolean)) {
    spawnSync('chmod', ['-R', 'u+w', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('Dockerfile replayed without Docker', { timeout: 120_000 }, () => {
  it('copies only the compiler inputs and the config from the context', () => {
    const tops = [...new Set(contextCopies.map((p) => p.split('/')[0]))].sort();
    expect(tops).toEqual(['config', 'package-lock.json', 'package.json', 'src', 'tsconfig.build.json', 'tsconfig.json']);
    expect(contextCopies.filter((p) => /\.(md|pem|key)$|(^|\/)\.env/.test(p))).toEqual([]);
  });

  it('ships the production dependencies and none of the devDependencies', () => {
    const modules = join(dirs.runtime, 'node_modules');
    for (const dep of Object.keys(pkg.dependencies)) expect(existsSync(join(modules, dep)), dep).toBe(true);
    for (const dev of [...Object.keys(pkg.devDependencies), 'typescript', 'vitest', 'oidc-provider', 'tsx'])
      expect(existsSync(join(modules, dev)), dev).toBe(false);
    expect(readdirSync(dirs.runtime).sort()).toEqual(['config', 'dist', 'node_modules', 'package.json']);
    expect(existsSync(join(dirs.runtime, 'dist/.tsbuildinfo'))).toBe(false);
  });

  it('runs --version and validate from a read-only tree, writing nothing', () => {
    const entry = JSON.parse(runtime.body.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
    const main = hostPath(dirs.runtime, entry.at(-1)!);
    const flags = entry.slice(1, -1); // node's own flags, as the image runs it
    spawnSync('chmod', ['-R', 'a-w', dirs.runtime]);
    const before = snapshot(dirs.runtime);
    const version = node([...flags, main, '--version']);
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe(pkg.version);
    const validate = node([...flags, main, 'validate', '--config', 'config/authbridge.yaml']);
    expect(validate.status, validate.stderr).toBe(0);
    expect(validate.stdout).toContain('config/authbridge.yaml: OK');
    // chmod does not stop root: compare the tree too
    expect(snapshot(dirs.runtime)).toEqual(before);
  });

  it('runs as a numeric non-root user, with exec-form ENTRYPOINT/CMD and a valid node HEALTHCHECK', () => {
    const last = (op: string) => runtime.body.filter((i) => i.op === op).at(-1)?.args;
    expect(build!.from).toBe(runtime.from);
    expect(runtime.from).toMatch(/^node:20[.-]/);
    expect(last('USER')).toMatch(/^[1-9]\d*(:\d+)?$/);
    expect(last('EXPOSE')).toBe('8080');
    expect(JSON.parse(last('ENTRYPOINT')!)).toEqual(['node', '--max-semi-space-size=8', '/app/dist/main.js']);
    expect(JSON.parse(last('CMD')!)).toEqual(['start']);
    const [, flags = '', cmd = ''] = /^((?:--\S+\s+)*)CMD\s+(\[.*\])$/.exec(last('HEALTHCHECK') ?? '') ?? [];
    for (const flag of flags.trim().split(/\s+/)) expect(flag).toMatch(/^--(interval|timeout|start-period|start-interval)=\d+[smh]$|^--retries=\d+$/);
    const [bin, dashE, script] = JSON.parse(cmd) as string[];
    expect([bin, dashE]).toEqual(['node', '-e']);
    expect(script).toContain('http://127.0.0.1:8080/healthz');
    const file = join(dirs.build, 'healthcheck.cjs');
    writeFileSync(file, script!);
    const check = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);
  });
});
