// The CLI as users run it: `authbridge validate` exit codes and messages; `authbridge start` serves,
// answers health checks and exits 0 on SIGTERM; `npm run demo` completes.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { authbridgeArgv } from '../support/cli.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'authbridge-cli-'));

/**
 * Runs the CLI (support/cli.ts: the build when fresh, else src/main.ts through tsx), another TypeScript entry
 * through tsx, or with `script: null`, the built bin `dist/main.js` itself.
 */
function run(args: string[], env: NodeJS.ProcessEnv = {}, script: string | null = 'src/main.ts') {
  const entry = script === null ? [join(ROOT, 'dist/main.js')] : script === 'src/main.ts' ? authbridgeArgv() : ['--import', 'tsx', script];
  const argv = [...entry, ...args];
  const child = spawn(process.execPath, argv, { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const done = once(child, 'exit').then(([code]) => ({ code: code as number, stdout, stderr }));
  return { child, done, out: () => stdout };
}

describe('authbridge without a command, or with a misspelt one', () => {
  it('prints the usage and exits 2 instead of serving', async () => {
    const { code, stdout, stderr } = await run([]).done;
    expect(code).toBe(2);
    expect(stderr).toContain('Usage:');
    expect(stdout).toBe('');
  });

  it.each([
    [['strat'], 'authbridge: unknown command "strat"; did you mean "start"?'],
    [['keys', 'lst'], 'authbridge: unknown command "keys lst"; did you mean "keys list"?'],
    [['keys'], 'authbridge: "keys" needs one of: list, rotate, export-public, generate'],
    [['validate', '--confg', 'x.yaml'], 'authbridge: unknown option "--confg"; did you mean "--config"?'],
    [['keys', 'rotate', '--force-promot'], 'authbridge: unknown option "--force-promot"; did you mean "--force-promote"?'],
    [['validate', '--config'], 'authbridge: option "--config" needs a value'],
    [['frobnicate'], 'authbridge: unknown command "frobnicate" (authbridge --help'],
  ])('%j names the bad word and the closest valid one, exit 2', async (args, expected) => {
    const { code, stderr } = await run(args).done;
    expect(code).toBe(2);
    expect(stderr.trim()).toContain(expected);
    expect(stderr).not.toMatch(/TypeError|ERR_PARSE_ARGS|at .*\.js:\d+/);
  });
});

describe("authbridge --help, and each command's", () => {
  const commands = [
    [],
    ['start'],
    ['validate'],
    ['doctor'],
    ['jti', 'show'],
    ['keys'],
    ['keys', 'list'],
    ['keys', 'rotate'],
    ['keys', 'export-public'],
    ['keys', 'generate'],
    ['cache', 'flush'],
  ];

  it('names the docs page that explains each command, and the page is in the repository', async () => {
    for (const command of commands) {
      const { code, stdout } = await run([...command, '--help']).done;
      expect(code, command.join(' ')).toBe(0);
      if (command.length > 0) expect(stdout, command.join(' ')).toContain(`authbridge ${command.join(' ')}`);
      const pages = [...stdout.matchAll(/\bdocs: (docs\/[\w-]+\.md(?:, docs\/[\w-]+\.md)*)/g)].flatMap((m) => m[1]!.split(', '));
      expect(pages.length, `${command.join(' ')} --help names no docs page:\n${stdout}`).toBeGreaterThan(0);
      for (const page of [...pages, ...(stdout.match(/\bdocs\/[\w-]+\.md/g) ?? [])])
        expect(existsSync(join(ROOT, page)), `${command.join(' ')} --help: ${page}`).toBe(true);
    }
  }, 60_000);

  it('`COMMAND --help` shows that command only', async () => {
    const { stdout } = await run(['keys', 'rotate', '--help']).done;
    expect(stdout).toContain('authbridge keys rotate [--owner');
    expect(stdout).not.toContain('authbridge start');
    expect(stdout).toContain('docs: docs/replicas.md');
  });
});

describe('authbridge validate', () => {
  it('exits 0 on the shipped example config', async () => {
    const { code, stdout } = await run(['validate', '--config', 'config/authbridge.yaml']).done;
    expect(code).toBe(0);
    expect(stdout).toMatch(/OK \(1 upstream\(s\), 1 client\(s\)\)/);
  });

  it('exits non-zero and lists every problem with its path', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'server: { port: 99999 }\nupstreams:\n  okta:\n    issuer: http://idp.example.com\n    clients:\n      - clientId: b\n        clientSecret: ${MISSING_SECRET}\n        upstream: { method: private_key_jwt, key: { file: /nonexistent.pem } }\n',
    );
    const { code, stderr } = await run(['validate', '--config', file]).done;
    expect(code).toBe(1);
    expect(stderr).toContain('upstreams.okta.clients[0].clientSecret: environment variable MISSING_SECRET is not set');
    expect(stderr).toContain('server.port:');
    expect(stderr).toContain('upstreams.okta.issuer: must be an https URL');
    expect(stderr).toContain('upstreams.okta.clients[0].upstream.key.file: cannot read key file /nonexistent.pem: ENOENT');
  });

  it('reads the file named by AUTHBRIDGE_CONFIG', async () => {
    const { code, stderr } = await run(['validate'], { AUTHBRIDGE_CONFIG: join(dir, 'missing.yaml') }).done;
    expect(code).toBe(1);
    expect(stderr).toContain('cannot read config file: ENOENT');
  });
});

describe('the built bin (dist/main.js, what `npx authbridge` runs)', () => {
  it('validates and prints its version', async () => {
    const validate = await run(['validate', '--config', 'config/authbridge.yaml'], {}, null).done;
    expect(validate.code).toBe(0);
    expect(validate.stdout).toContain('OK');
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect((await run(['--version'], {}, null).done).stdout.trim()).toBe(version);
  });
});

describe('authbridge start', () => {
  it('serves, is ready, and exits 0 on SIGTERM', async () => {
    const file = join(dir, 'start.yaml');
    writeFileSync(
      file,
      'server: { host: 127.0.0.1, port: 0, metricsPort: 0 }\nupstreams:\n  example:\n    issuer: https://idp.example.com\n    clients: [{ clientId: b, upstream: { method: client_secret_basic } }]\n',
    );
    const proc = run(['start', '--config', file]);
    let url: string | undefined;
    for (let i = 0; i < 100 && !url; i++) {
      await new Promise((r) => setTimeout(r, 100));
      url = /"url":"(http:\/\/[^"]+)"/.exec(proc.out())?.[1];
    }
    expect(url, proc.out()).toBeDefined();
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    proc.child.kill('SIGTERM');
    const { code, stdout } = await proc.done;
    expect(code).toBe(0);
    expect(stdout).toContain('shutting down');
  });

  it('refuses to start on an invalid config, naming the field', async () => {
    const file = join(dir, 'invalid.yaml');
    writeFileSync(file, 'upstreams:\n  metrics: { issuer: https://a.example, clients: [{ clientId: b, upstream: { method: client_secret_post } }] }\n');
    const { code, stderr } = await run(['start', '--config', file]).done;
    expect(code).toBe(1);
    expect(stderr).toContain('upstreams.metrics (name): is a reserved path');
    expect(stderr).toMatch(/^invalid configuration in /m); // said plainly, not as an unexpected `authbridge: …`
  });
});

describe('authbridge start without server.publicUrl', () => {
  it('refuses to serve a JWKS at a listen address no IdP can fetch, saying why', async () => {
    const file = join(dir, 'no-public-url.yaml');
    writeFileSync(
      file,
      `server: { port: 0, metricsPort: 0 }\nkeys: { encryptionKey: ${Buffer.alloc(32, 3).toString('base64')} }\nupstreams:\n  okta:\n    issuer: https://idp.example.com\n    clients: [{ clientId: b, clientSecret: s, upstream: { method: private_key_jwt, key: managed } }]\n`,
    );
    for (const command of ['start', 'validate']) {
      const { code, stderr } = await run([command, '--config', file]).done;
      expect(code, command).toBe(1);
      expect(stderr).toContain('server.publicUrl: required: upstream okta publishes a JWKS for the IdP to fetch (private_key_jwt)');
      expect(stderr).toContain('the listen address 0.0.0.0, which no IdP can reach');
    }
  });
});

describe('authbridge start with Redis down', () => {
  it('exits 1 with a plain message, naming no URL or password', async () => {
    const file = join(dir, 'redis-down.yaml');
    writeFileSync(
      file,
      'store: { type: redis, redis: { url: "redis://user:hunter2@127.0.0.1:1", connectTimeoutMs: 500 } }\nupstreams:\n  example:\n    issuer: https://idp.example.com\n    clients: [{ clientId: b, upstream: { method: client_secret_basic } }]\n',
    );
    const { code, stderr } = await run(['start', '--config', file]).done;
    expect(code).toBe(1);
    expect(stderr).toContain('store unavailable (connect');
    expect(stderr).toMatch(/^store unavailable \(connect/m); // said plainly, not as an unexpected `authbridge: …`
    expect(stderr).not.toContain('hunter2');
  });
});

describe('npm run demo', () => {
  it('runs the whole job and exits 0', async () => {
    const { code, stdout, stderr } = await run([], {}, 'scripts/demo.ts').done;
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('the IdP answered 200');
    expect(stdout).toContain('"aud": "urn:demo:api"');
    expect(stdout).toMatch(/401 \{"error":"invalid_client"[^\n]*\(requests at the IdP: 0\)/);
    expect(stdout).toContain('call 1: 200  Cache-Status: authbridge; fwd=uri-miss; stored');
    expect(stdout).toMatch(/call 5: 200 {2}Cache-Status: authbridge; hit; ttl=\d+/);
    expect(stdout).toContain('requests at the IdP for these five calls: 1');
  }, 60_000);
});
