// The system tools (programs from Debian packages, not npm) that tests run, and the one policy for them:
// - the tool is on the PATH: the test runs;
// - it is missing outside CI: the test is skipped, and the summary reporter names the tool and the one
//   `apt-get install` line that brings every missing one (the skip is recorded in the task's meta, which
//   vitest carries from the forked worker to the reporter);
// - it is missing under CI=true: the file fails to load, saying what to install. CI never skips.
//
//   describe('promtool', needs('promtool'), () => { … });
//   it('…', { timeout: 60_000, ...needs('openssl') }, () => { … });
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Every system tool a test runs: the Debian package it comes in, and a file to look for when it is not a program. */
export const TOOLS = {
  'redis-server': { package: 'redis-server' },
  'redis-cli': { package: 'redis-server' }, // in redis-tools, which redis-server depends on
  promtool: { package: 'prometheus' },
  'softhsm2-util': { package: 'softhsm2' },
  // the PKCS#11 module itself, which the tests load (not a program: found at its path)
  'libsofthsm2.so': { package: 'softhsm2', file: '/usr/lib/softhsm/libsofthsm2.so' },
  'pkcs11-tool': { package: 'opensc' },
  openssl: { package: 'openssl' },
  // Authlib 1.2 on Flask, run by Debian's python3: a token endpoint that does not form-decode Basic credentials
  authlib: { package: 'python3-authlib', file: '/usr/lib/python3/dist-packages/authlib/__init__.py' },
  flask: { package: 'python3-flask', file: '/usr/lib/python3/dist-packages/flask/__init__.py' },
} as const satisfies Record<string, { package: string; file?: string }>;

export type Tool = keyof typeof TOOLS;

export interface MissingTool {
  tool: Tool;
  package: string;
}

declare module 'vitest' {
  interface TaskMeta {
    /** the system tools whose absence skipped this suite or test (see needs()) */
    missingTools?: MissingTool[];
  }
}

const accessible = (path: string, mode: number) => {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
};

/** Whether the tool is there: a program on `path` (the PATH's syntax), or its file. */
export function available(tool: Tool, path = process.env.PATH ?? ''): boolean {
  const spec: { package: string; file?: string } = TOOLS[tool];
  if (spec.file) return accessible(spec.file, constants.R_OK);
  return path.split(delimiter).some((dir) => dir !== '' && accessible(join(dir, tool), constants.X_OK));
}

/** The one command that installs the packages of these tools (each package once, in TOOLS' order). */
export function aptGetLine(tools: readonly Tool[]): string {
  const packages = [...new Set((Object.keys(TOOLS) as Tool[]).filter((t) => tools.includes(t)).map((t) => TOOLS[t].package))];
  return `apt-get install -y ${packages.join(' ')}`;
}

/**
 * Options for describe()/it() that run the block when every tool is there and skip it (recording why) when one is
 * missing; under CI=true a missing tool throws instead, which fails the file.
 */
export function needs(...tools: Tool[]): { skip: boolean; meta: { missingTools?: MissingTool[] } } {
  return needsIn(process.env, ...tools);
}

/** needs() against a given environment (PATH, CI): what the unit test of this policy calls. */
export function needsIn(env: NodeJS.ProcessEnv, ...tools: Tool[]): { skip: boolean; meta: { missingTools?: MissingTool[] } } {
  const missing = tools.filter((tool) => !available(tool, env.PATH ?? ''));
  if (missing.length === 0) return { skip: false, meta: {} };
  if (env.CI === 'true') {
    throw new Error(`${missing.join(', ')} not found on the PATH, and under CI=true no test is skipped for a missing tool: ${aptGetLine(missing)}`);
  }
  return { skip: true, meta: { missingTools: missing.map((tool) => ({ tool, package: TOOLS[tool].package })) } };
}

/** The tests on redisForTests(): a redis-server of their own, unless REDIS_URL names one; and any other tools. */
export const needsRedis = (...others: Tool[]) => needs(...(process.env.REDIS_URL ? [] : (['redis-server'] as const)), ...others);
