// A real redis-server for tests: started on a free loopback port (hermetic), or REDIS_URL when set.
// An own server can be stopped and started again on the same port, for outage tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Socket } from 'node:net';
import { freePort } from './bridge.js';

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
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], { stdio: 'ignore' });
    child.on('error', () => {});
    await waitForPort(port, 5000);
  };
  const stop = async () => {
    if (!child || child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL'); // an outage, not a polite shutdown
    await exited;
    child = undefined;
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, keyPrefix: uniquePrefix(), own: true, stop, start, close: stop };
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
