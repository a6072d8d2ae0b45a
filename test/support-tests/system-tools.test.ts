// The one policy for system tools (test/support/system-tools.ts), against real PATHs: a tool there runs its
// tests, a missing one skips them outside CI and records tool and package, and fails them under CI=true.
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { aptGetLine, available, needsIn, TOOLS, type Tool } from '../support/system-tools.js';

const ROOT = new URL('../../', import.meta.url);

/** A PATH of two dirs: one with an executable `promtool`, one with a `redis-server` that is not executable. */
function fakePath(): string {
  const [a, b] = [mkdtempSync(join(tmpdir(), 'authbridge-tools-')), mkdtempSync(join(tmpdir(), 'authbridge-tools-'))];
  writeFileSync(join(a, 'promtool'), '#!/bin/sh\n');
  chmodSync(join(a, 'promtool'), 0o755);
  writeFileSync(join(b, 'redis-server'), '');
  chmodSync(join(b, 'redis-server'), 0o644);
  return [a, '', b].join(delimiter);
}

describe('system tools', () => {
  it('a tool is available when an executable of its name is in a PATH dir', () => {
    const PATH = fakePath();
    expect(available('promtool', PATH)).toBe(true);
    expect(available('redis-server', PATH)).toBe(false); // there, but not executable
    expect(available('openssl', PATH)).toBe(false);
    expect(available('promtool', '')).toBe(false);
  });

  it('all there: the block runs', () => {
    expect(needsIn({ PATH: fakePath() }, 'promtool')).toEqual({ skip: false, meta: {} });
    expect(needsIn({ PATH: fakePath(), CI: 'true' }, 'promtool')).toEqual({ skip: false, meta: {} });
    expect(needsIn({ PATH: '' })).toEqual({ skip: false, meta: {} });
  });

  it('one missing outside CI: skipped, with the missing tools and their packages in the meta', () => {
    for (const CI of [undefined, 'false', '1'])
      expect(needsIn({ PATH: fakePath(), CI }, 'promtool', 'redis-server', 'pkcs11-tool')).toEqual({
        skip: true,
        meta: {
          missingTools: [
            { tool: 'redis-server', package: 'redis-server' },
            { tool: 'pkcs11-tool', package: 'opensc' },
          ],
        },
      });
  });

  it('one missing under CI=true: throws the apt-get line (the file fails to load)', () => {
    expect(() => needsIn({ PATH: fakePath(), CI: 'true' }, 'promtool', 'redis-server', 'redis-cli')).toThrow(
      'redis-server, redis-cli not found on the PATH, and under CI=true no test is skipped for a missing tool: apt-get install -y redis-server',
    );
  });

  it('one apt-get line: each package once, in a stable order', () => {
    expect(aptGetLine(['pkcs11-tool', 'libsofthsm2.so', 'softhsm2-util', 'promtool', 'redis-server'])).toBe(
      'apt-get install -y redis-server prometheus softhsm2 opensc',
    );
  });

  it('the README and .ci/run install the same packages: every tool of the list', () => {
    const all = aptGetLine(Object.keys(TOOLS) as Tool[]);
    const readme = readFileSync(new URL('README.md', ROOT), 'utf8');
    expect(readme.match(/^apt-get install -y redis-server .*?(?=\s+#)/m)?.[0]).toBe(all);
    const ci = readFileSync(new URL('.ci/run', ROOT), 'utf8');
    expect(`apt-get install -y ${/^PACKAGES=\((.*)\)$/m.exec(ci)?.[1]}`).toBe(all);
    const programs = Object.entries(TOOLS)
      .filter(([, spec]) => !('file' in spec))
      .map(([tool]) => tool);
    expect(/^for tool in (.*); do$/m.exec(ci)?.[1]?.split(' ')).toEqual(programs);
    expect(ci).toContain(`[ -r ${TOOLS['libsofthsm2.so'].file} ]`);
  });
});
