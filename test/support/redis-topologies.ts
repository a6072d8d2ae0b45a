// Real Redis Sentinel and Cluster topologies for tests: redis-server processes on free loopback ports,
// config and data in a temp dir of their own (Sentinel rewrites its config file, Cluster writes nodes.conf),
// no persistence. close() kills every process and removes the temp dir.
import { execFile, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { spawnRedisServer } from './redis.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface SentinelTopology extends ReplicatedTopology {
  /** only the sentinel: a client finds the master through it */
  sentinels: HostPort[];
  /** the master group name */
  name: string;
}

export interface ReplicatedTopology {
  /** the master's address (for assertions only: a store under test given sentinels must not be given it) */
  master: HostPort;
  /** its replicas, each in sync with the master when the topology is returned */
  replicas: HostPort[];
  /** SIGKILLs the master's process: a crash, not a shutdown */
  killMaster(): Promise<void>;
  /** SIGSTOPs (true) or SIGCONTs (false) the master's process: a host that hangs, its connections left open */
  freezeMaster(frozen: boolean): void;
  /** SIGSTOPs (true) or SIGCONTs (false) a replica's process: a replica that stops acknowledging, link and all */
  freezeReplica(index: number, frozen: boolean): void;
  close(): Promise<void>;
}

export interface ClusterTopology {
  /** every node (all masters, no replicas) */
  nodes: HostPort[];
  close(): Promise<void>;
}

const HOST = '127.0.0.1';
const WAIT_MS = 15_000;
export const SENTINEL_MASTER_NAME = 'authbridge';

/** A master and `replicas` replicas of it. Resolves once every replica's link is up. */
export async function startReplicated({ replicas = 1 }: { replicas?: number } = {}): Promise<ReplicatedTopology> {
  requireBinaries();
  const group = await ProcessGroup.create('authbridge-replicated-');
  try {
    return await spawnReplicated(group, replicas);
  } catch (err) {
    await group.close();
    throw err;
  }
}

async function spawnReplicated(group: ProcessGroup, count: number): Promise<ReplicatedTopology> {
  // a replica's first sync starts at once (diskless sync otherwise waits 5 s for more replicas to join)
  const [masterPort] = await group.spawnRedis('master', ([port]) => [...serverArgs(port!, group.dir), '--repl-diskless-sync-delay', '0']);
  await waitFor(`redis master on ${HOST}:${masterPort}`, group, async () => (await command(masterPort, 'ping')) === 'PONG');
  const replicas: HostPort[] = [];
  for (let i = 0; i < count; i++) {
    const [port] = await group.spawnRedis(`replica ${i}`, ([port]) => [...serverArgs(port!, group.dir), '--replicaof', HOST, String(masterPort)]);
    replicas.push({ host: HOST, port: port! });
  }
  for (const replica of replicas)
    await waitFor(`replica ${HOST}:${replica.port} in sync`, group, async () =>
      /^master_link_status:up\r?$/m.test(String(await command(replica.port, 'info', 'replication'))),
    );
  return {
    master: { host: HOST, port: masterPort! },
    replicas,
    killMaster: () => group.kill(`master:${masterPort}`),
    freezeMaster: (frozen) => group.signal(`master:${masterPort}`, frozen ? 'SIGSTOP' : 'SIGCONT'),
    freezeReplica: (index, frozen) => group.signal(`replica ${index}:${replicas[index]!.port}`, frozen ? 'SIGSTOP' : 'SIGCONT'),
    close: () => group.close(),
  };
}

/**
 * A master (with `replicas` replicas) and one sentinel monitoring it (quorum 1), declaring the master down after
 * `downAfterMs`. Resolves once the sentinel names the master and knows every replica.
 */
export async function startSentinel({ replicas = 0, downAfterMs = 1000 }: { replicas?: number; downAfterMs?: number } = {}): Promise<SentinelTopology> {
  requireBinaries();
  const group = await ProcessGroup.create('authbridge-sentinel-');
  try {
    const replicated = await spawnReplicated(group, replicas);
    const masterPort = replicated.master.port;

    const conf = join(group.dir, 'sentinel.conf');
    await writeFile(
      conf,
      [
        `bind ${HOST}`,
        `dir ${group.dir}`,
        `sentinel monitor ${SENTINEL_MASTER_NAME} ${HOST} ${masterPort} 1`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} ${downAfterMs}`,
        `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 5000`,
        '',
      ].join('\n'),
    );
    const [sentinelPort] = await group.spawnRedis('sentinel', ([port]) => [conf, '--sentinel', '--port', String(port)]);
    await waitFor(`sentinel on ${HOST}:${sentinelPort} to name master ${SENTINEL_MASTER_NAME}`, group, async () => {
      const addr = await command(sentinelPort, 'sentinel', 'get-master-addr-by-name', SENTINEL_MASTER_NAME);
      return Array.isArray(addr) && addr[0] === HOST && Number(addr[1]) === masterPort;
    });
    // a failover needs a replica the sentinel knows of (it learns them from the master's INFO)
    await waitFor(`sentinel on ${HOST}:${sentinelPort} to know ${replicas} replica(s)`, group, async () => {
      const known = await command(sentinelPort, 'sentinel', 'replicas', SENTINEL_MASTER_NAME);
      return Array.isArray(known) && known.length === replicas;
    });
    return { ...replicated, sentinels: [{ host: HOST, port: sentinelPort! }], name: SENTINEL_MASTER_NAME };
  } catch (err) {
    await group.close();
    throw err;
  }
}

/** Three masters, slots spread by `redis-cli --cluster create`. Resolves once every node says cluster_state:ok. */
export async function startCluster(): Promise<ClusterTopology> {
  requireBinaries();
  const group = await ProcessGroup.create('authbridge-cluster-');
  try {
    const nodes: HostPort[] = [];
    for (let i = 0; i < 3; i++) {
      // the bus port is port + 10000 by default, which can be past 65535 for an ephemeral port: pick it
      const [port] = await group.spawnRedis(
        `cluster node ${i}`,
        ([port, busPort]) => [
          ...serverArgs(port!, group.dir),
          '--cluster-enabled',
          'yes',
          '--cluster-port',
          String(busPort),
          '--cluster-config-file',
          join(group.dir, `nodes-${i}.conf`),
          '--cluster-node-timeout',
          '2000',
        ],
        2,
      );
      nodes.push({ host: HOST, port: port! });
    }
    await Promise.all(nodes.map((n) => waitFor(`cluster node on ${HOST}:${n.port}`, group, async () => (await command(n.port, 'ping')) === 'PONG')));

    await new Promise<void>((resolve, reject) => {
      execFile(
        'redis-cli',
        ['--cluster', 'create', ...nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
        { timeout: WAIT_MS },
        (err, stdout, stderr) => (err ? reject(new Error(`redis-cli --cluster create failed: ${err.message}\n${stdout}${stderr}`)) : resolve()),
      );
    });
    await waitFor('cluster_state:ok on every node', group, async () => {
      const infos = await Promise.all(nodes.map((n) => command(n.port, 'cluster', 'info')));
      return infos.every((info) => typeof info === 'string' && /^cluster_state:ok\r?$/m.test(info));
    });
    return { nodes, close: () => group.close() };
  } catch (err) {
    await group.close();
    throw err;
  }
}

function serverArgs(port: number, dir: string): string[] {
  return ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'yes'];
}

/** A clear error up front instead of a wait loop timing out on a process that never started. */
function requireBinaries(): void {
  for (const bin of ['redis-server', 'redis-cli']) {
    const probe = spawnSync(bin, ['--version'], { stdio: 'ignore' });
    if (probe.error)
      throw new Error(
        `${bin} not found on PATH (${(probe.error as NodeJS.ErrnoException).code ?? probe.error.message}): install Redis 7 (Debian: apt-get install redis-server)`,
      );
  }
}

/** The processes of one topology and their temp dir; close() is idempotent. */
class ProcessGroup {
  readonly #children: { label: string; child: ChildProcess; output(): string; killed?: boolean }[] = [];
  #closed = false;

  private constructor(readonly dir: string) {}

  static async create(prefix: string): Promise<ProcessGroup> {
    return new ProcessGroup(await mkdtemp(join(tmpdir(), prefix)));
  }

  /** Starts redis-server on `count` ports of its own (see spawnRedisServer); resolves with them once bound. */
  async spawnRedis(label: string, args: (ports: number[]) => string[], count = 1): Promise<number[]> {
    const { child, ports, output } = await spawnRedisServer(args, { count });
    this.#children.push({ label: `${label}:${ports[0]}`, child, output });
    return ports;
  }

  /** SIGKILLs the process labelled `label` (`master:<port>`) and waits for its exit. */
  async kill(label: string): Promise<void> {
    const found = this.#find(label);
    const { child } = found;
    found.killed = true; // on purpose: not a reason for a wait to give up
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  signal(label: string, signal: NodeJS.Signals): void {
    this.#find(label).child.kill(signal);
  }

  #find(label: string): { child: ChildProcess; killed?: boolean } {
    const found = this.#children.find((c) => c.label === label);
    if (!found) throw new Error(`no process ${label} in this topology`);
    return found;
  }

  /** Why a wait is pointless: a process of the group exited (with its last output). */
  exited(): string | undefined {
    const dead = this.#children.find((c) => !c.killed && (c.child.exitCode !== null || c.child.signalCode !== null));
    if (!dead) return undefined;
    return `${dead.label} exited (${dead.child.exitCode ?? dead.child.signalCode}): ${dead.output()}`;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(
      this.#children.map(async ({ child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      }),
    );
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Polls `check` every 100 ms for at most WAIT_MS; fails early if a process of the group died. */
async function waitFor(what: string, group: ProcessGroup, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  let lastError: unknown;
  for (;;) {
    const dead = group.exited();
    if (dead) throw new Error(`waiting for ${what}: ${dead}`);
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${WAIT_MS / 1000} s waiting for ${what}${detail}`);
    }
    await sleep(100);
  }
}

/** One command on a fresh, non-retrying connection to a loopback port. */
async function command(port: number, name: string, ...args: string[]): Promise<unknown> {
  const client = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    commandTimeout: 1000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.call(name, ...args);
  } finally {
    client.disconnect();
  }
}
