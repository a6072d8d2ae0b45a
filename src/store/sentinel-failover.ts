import { Redis } from 'ioredis';
import type { RedisStoreConfig } from '../config/schema.js';

/** The wait before reconnect attempt `attempt` (1, 2, …): 0.2, 0.4, 0.8, 1.6, then 2 s at most. */
export const reconnectDelay = (attempt: number): number => Math.min(100 * 2 ** Math.min(attempt, 5), 2000);

const SWITCH_MASTER = '+switch-master';

/**
 * Reconnects Sentinel-mode clients as soon as a sentinel announces that their master was replaced, instead of at
 * their next backoff step: a killed primary is then served again when Sentinel promotes the replica, not up to the
 * backoff's 1.6–2 s later.
 *
 * ioredis's own `failoverDetector` does not do this: on `+switch-master` it only ends the stream to the old master,
 * which a killed primary has closed already, so the client still waits out its reconnect timer (and it reacts to
 * every master group on the sentinels). Here the followed clients have no ioredis retry (`retryStrategy` answers
 * null: they stop at `end`) and this module reconnects them, on the same backoff, or at once after a switch.
 */
export class SentinelFailover {
  readonly #name: string;
  readonly #subscribers: Redis[];
  readonly #followed = new Set<{ onSwitch(host: string, port: number): void; stop(): void }>();
  #closed = false;

  constructor(config: Pick<RedisStoreConfig, 'name' | 'sentinels' | 'sentinelTls' | 'connectTimeoutMs'>) {
    this.#name = config.name!;
    this.#subscribers = config.sentinels!.map((sentinel) => {
      // a subscriber queues its SUBSCRIBE until it is connected and subscribes again after a reconnect
      const subscriber = new Redis({
        host: sentinel.host,
        port: sentinel.port,
        connectTimeout: config.connectTimeoutMs,
        maxRetriesPerRequest: null,
        retryStrategy: reconnectDelay,
        ...(config.sentinelTls ? { tls: {} } : {}),
      });
      subscriber.on('error', () => {}); // a sentinel that is down: the store's own connection errors are what is logged
      subscriber.on('message', (channel: string, message: string) => {
        if (channel !== SWITCH_MASTER) return;
        // `<master name> <old ip> <old port> <new ip> <new port>`
        const [name, , , host, port] = message.split(' ');
        if (name === this.#name && host && port) for (const followed of this.#followed) followed.onSwitch(host, Number(port));
      });
      subscriber.subscribe(SWITCH_MASTER).catch(() => {});
      return subscriber;
    });
  }

  /** Takes over reconnecting `client` (created with `retryStrategy: () => null`) once it is connected. */
  follow(client: Redis): void {
    let attempts = 0;
    let timer: NodeJS.Timeout | undefined;
    let switched = false;
    const connect = () => {
      clearTimeout(timer);
      timer = undefined;
      if (!this.#closed && client.status === 'end') client.connect().catch(() => {}); // a failure ends in `end` again
    };
    client.on('ready', () => {
      attempts = 0;
      switched = false;
    });
    client.on('end', () => {
      if (this.#closed) return;
      clearTimeout(timer);
      timer = setTimeout(connect, switched ? 0 : reconnectDelay(++attempts));
      switched = false;
    });
    this.#followed.add({
      onSwitch(host, port) {
        if (client.status === 'end') return connect();
        if (client.status === 'ready' || client.status === 'connect') {
          if (client.stream.remoteAddress === host && client.stream.remotePort === port) return; // already on the new master
          // still connected to the old one (a host that hangs, a partition): drop it and reconnect at once. Destroyed,
          // as a network failure would: disconnect() would end it politely and wait 2 s for a frozen peer to answer
          switched = true;
          return void client.stream.destroy();
        }
        switched = true; // an attempt in flight (maybe to the old master): if it fails, the next one starts at once
      },
      stop: () => clearTimeout(timer),
    });
  }

  close(): void {
    this.#closed = true;
    for (const followed of this.#followed) followed.stop();
    for (const subscriber of this.#subscribers) subscriber.disconnect();
  }
}
