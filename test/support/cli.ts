// How tests run the authbridge CLI in a process of its own, as a user would: the built `dist/main.js` when it
// is at least as new as every source file (`npm test` builds first), else `src/main.ts` through tsx, which
// costs about a second more per process. A stale build is never run.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;

/** node arguments that start the CLI: append the command and its options. Paths are absolute (any cwd). */
export function authbridgeArgv(): string[] {
  return builtIsFresh() ? [join(ROOT, 'dist/main.js')] : ['--import', 'tsx', join(ROOT, 'src/main.ts')];
}

function builtIsFresh(): boolean {
  const src = join(ROOT, 'src');
  for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) continue;
    const source = join(entry.parentPath, entry.name);
    const built = join(ROOT, 'dist', relative(src, source).replace(/\.ts$/, '.js'));
    const builtAt = statSync(built, { throwIfNoEntry: false })?.mtimeMs;
    if (builtAt === undefined || builtAt < statSync(source).mtimeMs) return false;
  }
  return true;
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one authbridge command to its end in a process of its own, as a user would (LOG_LEVEL warn unless `env` says). */
export async function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const child = spawn(process.execPath, [...authbridgeArgv(), ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const [code] = await once(child, 'exit');
  return { code: code as number, stdout, stderr };
}
