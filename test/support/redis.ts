// A real redis-server for tests: started on a free loopback port (hermetic), or REDIS_URL when set.
// An own server can be stopped and started again on the same port, for outage tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, Socket, type AddressInfo } from 'node:net';

export interface RedisServer {
  url: string;
  /** a key prefix unique to this run, so tests never see each other's keys (even on a shared REDIS_URL) */
  keyPrefix: string;
  /** false for REDIS_URL: a shared server that tests may not stop */
  readonly own: boolean;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

const uniquePrefix = () => `t-${randomBytes(6).toString('hex')}`;

/** REDIS_URL if set, else an own server. */
export async function redisForTests(): Promise<RedisServer> {
  const shared = process.env.REDIS_URL;
  if (!shared) return ownRedis();
  const noop = async () => {};
  return { url: shared, keyPrefix: uniquePrefix(), own: false, stop: () => Promise.reject(new Error('cannot stop REDIS_URL')), start: noop, close: noop };
}

/** Always an own redis-server process on a free port (outage tests need to stop it). */
export async function ownRedis(): Promise<RedisServer> {
  const args = (port: number) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'];
  let {
    child,
    ports: [port],
  } = await spawnRedisServer((ports) => args(ports[0]!));
  await waitForPort(port!, 5000);
  const start = async () => {
    if (child.exitCode === null && child.signalCode === null) return; // still running
    child = (await spawnRedisServerOn([port!], (ports) => args(ports[0]!))).child;
    await waitForPort(port!, 5000);
  };
  const stop = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL'); // an outage, not a polite shutdown
    await exited;
  };
  return { url: `redis://127.0.0.1:${port}`, keyPrefix: uniquePrefix(), own: true, stop, start, close: stop };
}

export interface RedisChild {
  child: ChildProcess;
  /** the ports the server bound, as handed to `args` */
  ports: number[];
  /** its last lines of output */
  output(): string;
}

/**
 * Spawns redis-server on `count` loopback ports it could bind (a cluster node needs two). redis-server cannot
 * listen on port 0 and tell the port, so: take ephemeral ports from the kernel, spawn, and read the log.
 * "Running mode=" is logged once every listener is bound; "Address already in use" (then it exits) means
 * another process took a port in between: pick again. The race is detected and retried, never skipped.
 */
export async function spawnRedisServer(
  args: (ports: number[]) => string[],
  { count = 1, attempts = 8 }: { count?: number; attempts?: number } = {},
): Promise<RedisChild> {
  for (let attempt = 1; ; attempt++) {
    const started = await spawnRedisServerOn(await ephemeralPorts(count), args).catch((err: unknown) => {
      if (err instanceof PortTakenError && attempt < attempts) return undefined;
      throw err;
    });
    if (started) return started;
  }
}

export class PortTakenError extends Error {}

/** Spawns redis-server on the given ports (a restart after an outage); PortTakenError if one is taken. */
export async function spawnRedisServerOn(ports: number[], args: (ports: number[]) => string[]): Promise<RedisChild> {
  const child = spawn('redis-server', args(ports), { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const output = () => lines.join('').trim().split('\n').slice(-8).join('\n');
  let seen = '';
  const bound = new Promise<void>((resolve, reject) => {
    const keep = (chunk: Buffer) => {
      lines.push(chunk.toString()); // read for as long as it runs: a full pipe would stall redis-server
      if (lines.length > 50) lines.shift();
      seen = (seen + chunk.toString()).slice(-4096);
      if (seen.includes('Running mode=')) resolve();
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (err) => reject(new Error(`redis-server could not be spawned (is it installed?): ${err.message}`)));
    child.once('exit', (code, signal) => {
      const why = `redis-server on ${ports.join(', ')} exited (${code ?? signal}) before listening: ${output()}`;
      reject(/Address already in use/.test(seen) ? new PortTakenError(why) : new Error(why));
    });
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 10_000);
  try {
    await bound;
  } finally {
    clearTimeout(timeout);
  }
  return { child, ports, output };
}

/** Ports the kernel hands out for port 0 right now, all held until every one is known (so they differ). */
async function ephemeralPorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))));
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  return ports;
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.write('PING\r\n');
        socket.once('data', (d) => (socket.destroy(), resolve(d.toString().startsWith('+PONG'))));
      });
      socket.once('error', () => (socket.destroy(), resolve(false)));
      socket.connect(port, '127.0.0.1');
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port} (is redis-server installed?)`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
