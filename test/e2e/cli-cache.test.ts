// `authbridge cache flush` as users run it, where it must refuse: --client without --upstream (a client id is one
// upstream's), and the memory store (its cache lives inside the running process). The flush itself against Redis and
// two replicas is in token-cache.test.ts.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'authbridge-cli-cache-'));
const memoryConfig = join(dir, 'memory.yaml');
writeFileSync(
  memoryConfig,
  JSON.stringify({
    upstreams: {
      idp: {
        issuer: 'https://idp.example.com',
        tokenCache: { enabled: true },
        clients: [{ clientId: 'broker', upstream: { method: 'client_secret_post' } }],
      },
    },
  }),
);

describe('authbridge cache flush', () => {
  it('--client without --upstream is refused before anything is read, saying why', async () => {
    const { code, stdout, stderr } = await runCli(['cache', 'flush', '--client', 'broker', '--config', join(dir, 'absent.yaml')]);
    expect(code).toBe(2); // a usage error, as every other
    expect(stdout).toBe('');
    expect(stderr.trim()).toBe("authbridge: --client needs --upstream: a client id is one upstream's (authbridge --help lists the commands and options)");
  });

  it('on the memory store: refused, explaining that it cannot reach the running process and what to do', async () => {
    for (const args of [[], ['--upstream', 'idp'], ['--upstream', 'idp', '--client', 'broker']]) {
      const { code, stdout, stderr } = await runCli(['cache', 'flush', ...args, '--config', memoryConfig]);
      expect(code, args.join(' ')).toBe(1);
      expect(stdout).toBe('');
      expect(stderr).toMatch(/memory store .*inside the running authbridge process.*cannot reach.*restart.*store type redis/);
      expect(stderr).not.toMatch(/at .*\.[jt]s:\d+/); // said plainly, no stack
    }
  }, 60_000);

  it('"cache" needs its subcommand; a misspelt one is named with the right one', async () => {
    const bare = await runCli(['cache']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('"cache" needs one of: flush');
    const typo = await runCli(['cache', 'flsh']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('did you mean "cache flush"?');
  });

  it('--help shows the command and names its docs page, docs/token-cache.md', async () => {
    for (const command of [['cache'], ['cache', 'flush']]) {
      const { code, stdout } = await runCli([...command, '--help']);
      expect(code).toBe(0);
      expect(stdout).toContain('authbridge cache flush [--upstream NAME [--client ID]] [--config FILE]');
      expect(stdout).toContain('docs: docs/token-cache.md');
      expect(stdout).not.toContain('keys list');
    }
  }, 60_000);
});
