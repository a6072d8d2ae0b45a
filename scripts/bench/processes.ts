// The processes of `npm run bench`: spawning the children (each party its own OS process), waiting for them to
// listen, their CPU time and RSS from /proc (summed over the process tree: cluster workers included), and the
// cleanup of every child and temp dir on exit, error and Ctrl-C.
import { execFileSync, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(HERE, '..', '..');
const children = new Set<ChildProcess>();
const dirs = new Set<string>();
const closers: Array<() => Promise<void>> = [];

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}
/** something else to close on exit (the Redis server, a SoftHSM token) */
export const onCleanup = (close: () => Promise<void>): void => void closers.push(close);

/** Every descendant of pid (cluster workers), from the ppid field of /proc/<pid>/stat. */
export function processTree(pid: number): number[] {
  const parent = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = statFields(Number(entry));
    if (stat) parent.set(Number(stat[1]), [...(parent.get(Number(stat[1])) ?? []), Number(entry)]);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(parent.get(tree[i]!) ?? []));
  return tree;
}
/** /proc/<pid>/stat from field 3 (state) on; [0] is state, [1] ppid, [11] utime, [12] stime (clock ticks). */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // exited meanwhile
  }
}
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
/** CPU seconds (user + system) of pid and its descendants so far. */
export function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    const f = statFields(p);
    if (f) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / CLK_TCK;
}
/** VmRSS of pid and its descendants, bytes. */
export function rssBytes(pid: number): number {
  let kb = 0;
  for (const p of processTree(pid)) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // exited meanwhile
    }
  }
  return kb * 1024;
}

/** A free loopback port (listen on 0, close): for authbridge and redis-server, which take a port from their config. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Spawns a child (stdio 'inherit' for stderr, an IPC slot) and registers it for cleanup. */
export function spawnChild(command: string, args: string[], options: { stdio?: StdioOptions; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  const child = spawn(command, args, { cwd: ROOT, stdio: options.stdio ?? ['ignore', 'inherit', 'inherit', 'ipc'], env: options.env ?? process.env });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
/** node --import tsx scripts/bench/<file>: a TS child without a compile step. */
export const spawnTs = (file: string, args: string[]): ChildProcess => spawnChild(process.execPath, ['--import', 'tsx', join(HERE, file), ...args]);

/** The first IPC message of a child, or its early exit as an error. */
export function firstMessage<T>(child: ChildProcess, what: string, timeoutMs = 30_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
    child.once('message', (m) => (clearTimeout(timer), resolve(m as T)));
    child.once('exit', (code, signal) => (clearTimeout(timer), reject(new Error(`${what} exited (${signal ?? code}) before answering`))));
  });
}

/** Resolves once something accepts TCP connections on port; rejects if `child` exits first. */
export async function waitForPort(port: number, child: ChildProcess, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.signalCode ?? child.exitCode}) while starting`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what}: port ${port} not listening after ${timeoutMs} ms`);
}

/** Builds dist/ (npx tsc -p tsconfig.build.json) when it is missing or a file under src/ is newer. */
export function buildIfStale(log: (text: string) => void): void {
  const stamp = (() => {
    try {
      return statSync(join(ROOT, 'dist', 'main.js')).mtimeMs;
    } catch {
      return 0;
    }
  })();
  const newest = (dir: string): number =>
    Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
  if (stamp > 0 && newest(join(ROOT, 'src')) <= stamp) return;
  log('building dist/ (npx tsc -p tsconfig.build.json)\n');
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const out = err as { stdout?: Buffer };
    throw new Error(`npm run build failed (src/ may be mid-edit; --no-build uses dist/ as it is):\n${out.stdout?.toString().slice(0, 2000) ?? String(err)}`);
  }
}

/** The node flags authbridge's image and `npm start` run it with (Dockerfile ENTRYPOINT). */
export const AUTHBRIDGE_NODE_FLAGS = ['--max-semi-space-size=8'];

/** authbridge the production way: node [flags, nodeArgs] dist/main.js start --config <file>, output to a log file. */
export function spawnAuthbridge(configFile: string, logFile: string, nodeArgs: string[] = [], main = join(ROOT, 'dist', 'main.js')): ChildProcess {
  const out = openSync(logFile, 'a');
  const env = { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' };
  // an IPC slot only for the GC probe (--memory): otherwise authbridge runs without one, as in production
  const stdio: StdioOptions = nodeArgs.length ? ['ignore', out, out, 'ipc'] : ['ignore', out, out];
  return spawnChild(process.execPath, [...AUTHBRIDGE_NODE_FLAGS, ...nodeArgs, main, 'start', '--config', configFile], { stdio, env });
}
export const logTail = (file: string): string => {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-6).join('\n');
  } catch {
    return '';
  }
};

/** SIGTERM every child and its descendants, SIGKILL what is left after 3 s; then the temp dirs. */
export async function cleanup(): Promise<void> {
  const pids = [...children].flatMap((c) => (c.pid === undefined ? [] : processTree(c.pid).reverse()));
  const exited = [...children].map((c) => new Promise((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve(0) : c.once('exit', resolve))));
  for (const c of children) c.kill('SIGTERM');
  await Promise.race([Promise.all(exited), new Promise((resolve) => setTimeout(resolve, 3000))]);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  for (const close of closers.splice(0)) await close().catch(() => undefined);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

let signalled = false;
/** true once SIGINT/SIGTERM arrived: the failures that follow are the children going, not worth a message */
export const stopping = (): boolean => signalled;
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => {
    if (signalled) return;
    signalled = true;
    process.stderr.write(`\nbench: ${signal}, stopping the children\n`);
    void cleanup().finally(() => process.exit(130));
  });
