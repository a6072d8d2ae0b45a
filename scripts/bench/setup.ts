// Starting the parties of `npm run bench`: the token stubs, the two floors, redis-server, the authbridge
// processes (one per store kind, plus server.workers 2 when the config knows that key), and the Party list.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Expectation } from '../bench-support.js';
import type { Party, StubHandle } from './phases.js';
import { firstMessage, freePort, logTail, onCleanup, ROOT, spawnAuthbridge, spawnTs, waitForPort } from './processes.js';
import { authbridgeConfig, inboundRequest, type ConfigSettings, type Instance, type Method } from './scenarios.js';
import { createSoftHsmToken, hasSoftHsm, SOFTHSM_MODULE } from '../../test/support/softhsm.js';
import { redisForTests, type RedisServer } from '../../test/support/redis.js';

export async function startStub(args: string[]): Promise<StubHandle> {
  const child = spawnTs('stub.ts', args);
  const { port, controlPort } = await firstMessage<{ port: number; controlPort: number }>(child, `token stub (${args[0]})`);
  return { origin: `${args[0]}://127.0.0.1:${port}`, control: `http://127.0.0.1:${controlPort}`, pid: child.pid! };
}

export async function startFloor(file: 'floor-node.ts' | 'floor-hono.ts', stub: StubHandle): Promise<{ origin: string; pid: number }> {
  const child = spawnTs(file, [stub.origin]);
  const { port } = await firstMessage<{ port: number }>(child, file);
  return { origin: `http://127.0.0.1:${port}`, pid: child.pid! };
}

/** The OTLP/HTTP traces receiver of the scenarios with tracing on (trace-sink.ts): its traces URL. */
export async function startTraceSink(): Promise<string> {
  const { port } = await firstMessage<{ port: number }>(spawnTs('trace-sink.ts', []), 'trace sink');
  return `http://127.0.0.1:${port}/v1/traces`;
}

export async function rsaLimit(): Promise<number> {
  return (await firstMessage<{ signsPerSecond: number }>(spawnTs('rsa-limit.ts', []), 'RSA limit')).signsPerSecond;
}

/** REDIS_URL, else an own redis-server on a free port (test/support/redis.ts); a reason when neither works. */
export async function startRedis(): Promise<RedisServer | string> {
  try {
    const redis = await redisForTests();
    onCleanup(() => redis.close());
    return redis;
  } catch (err) {
    return `no Redis: REDIS_URL is not set and redis-server did not start (${err instanceof Error ? err.message : String(err)})`;
  }
}

/** The ES256 key pair in a SoftHSM token; a reason when softhsm2 is missing. */
export function pkcs11Method(audience: string, connections: number): Method | string {
  if (!hasSoftHsm) return 'private_key_jwt ES256 (PKCS#11) skipped: softhsm2 and opensc are not installed (.ci/run installs them)';
  const hsm = createSoftHsmToken('bench', 'bench-pin-0000'); // sets SOFTHSM2_CONF, which authbridge inherits
  onCleanup(async () => hsm.remove());
  hsm.keypair('EC:prime256v1', 'bench', '09');
  const der = execFileSync('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', 'bench', '--read-object', '--type', 'pubkey', '--id', '09']);
  const key = createPublicKey({ key: der, format: 'der', type: 'spki' });
  const clientId = 'up-pkcs11';
  const expect: Expectation = { kind: 'jwt', clientId, alg: 'ES256', audience, key };
  const pkcs11 = { module: SOFTHSM_MODULE, tokenLabel: 'bench', pin: hsm.pin, keyLabel: 'bench', sessions: connections };
  return {
    id: 'pkcs11',
    label: 'private_key_jwt ES256 (PKCS#11)',
    instance: 'memory',
    upstream: 'bench',
    outbound: { method: 'private_key_jwt', clientId, alg: 'ES256', key: { pkcs11 } },
    expect,
  };
}

/** undefined when `validate` takes server.workers, else why not (checked once, on a throwaway config). */
export function workersUnsupported(dir: string, settings: ConfigSettings, methods: Method[]): string | undefined {
  const file = join(dir, 'workers-check.yaml');
  writeFileSync(file, authbridgeConfig(methods, { ...settings, workers: 2 }));
  try {
    execFileSync(process.execPath, [join(ROOT, 'dist', 'main.js'), 'validate', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    return undefined;
  } catch (err) {
    const e = err as { stderr?: Buffer; stdout?: Buffer };
    const why =
      `${e.stderr?.toString() ?? ''}${e.stdout?.toString() ?? ''}`
        .trim()
        .split('\n')
        .find((l) => /workers/i.test(l)) ?? 'validate refused the config';
    return `server.workers is not supported by this build (authbridge validate: ${why.trim().slice(0, 160)})`;
  }
}

/** undefined when the build at `main` takes the config of these methods (its `validate`), else its first complaint. */
export function configRefused(dir: string, main: string, methods: Method[], settings: Omit<ConfigSettings, 'port'>): string | undefined {
  const file = join(dir, 'compare-check.yaml');
  writeFileSync(file, authbridgeConfig(methods, { ...settings, port: 1 }));
  try {
    execFileSync(process.execPath, [main, 'validate', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    return undefined;
  } catch (err) {
    const e = err as { stderr?: Buffer; stdout?: Buffer };
    // `<file>: N problem(s)`, then one indented line per problem: the first problem
    const lines = `${e.stderr?.toString() ?? ''}${e.stdout?.toString() ?? ''}`.split('\n').map((l) => l.trim());
    const said = lines.slice(1).find((l) => l !== '') ?? lines[0];
    return (said || 'validate refused the config').slice(0, 160);
  }
}

export interface RunningInstance {
  instance: Instance;
  origin: string;
  child: ChildProcess;
  logFile: string;
}
/** One authbridge process: its config in dir, `node [nodeArgs] dist/main.js start --config` (or another build's main), up once its port accepts. */
export async function startInstance(
  dir: string,
  instance: Instance,
  methods: Method[],
  settings: Omit<ConfigSettings, 'port'>,
  nodeArgs: string[] = [],
  main?: string,
): Promise<RunningInstance> {
  const port = await freePort();
  const [configFile, logFile] = [join(dir, `authbridge-${instance}.yaml`), join(dir, `authbridge-${instance}.log`)];
  writeFileSync(configFile, authbridgeConfig(methods, { ...settings, port }));
  const child = spawnAuthbridge(configFile, logFile, nodeArgs, main);
  await waitForPort(port, child, `authbridge (${instance})`).catch((err: unknown) => {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${logTail(logFile)}`);
  });
  return { instance, origin: `http://127.0.0.1:${port}`, child, logFile };
}

export function newParty(p: Omit<Party, 'rounds' | 'cpuSeconds' | 'idpRequests' | 'calls'>): Party {
  return { ...p, rounds: [], cpuSeconds: 0, idpRequests: 0, calls: 0 };
}
export function methodParty(m: Method, running: RunningInstance, stubs: { http: StubHandle; https?: StubHandle }): Party {
  return newParty({
    name: m.label,
    kind: 'authbridge',
    instance: m.instance,
    id: m.id,
    url: `${running.origin}/${m.upstream}/token`,
    ...inboundRequest(m),
    ...(m.tokenCache && { cached: true }),
    pid: running.child.pid!,
    stub: m.upstream === 'mtls' ? stubs.https! : stubs.http,
    expect: m.expect,
    logFile: running.logFile,
  });
}
