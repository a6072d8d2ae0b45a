/**
 * The `store` section of the configuration: what replicas and workers share, in the process (memory) or in Redis
 * (single node, Sentinel or Cluster). Part of the one configuration contract: `schema.ts` assembles it with the others.
 */
import { z } from 'zod';

const hostPort = z.strictObject({
  host: z.string().min(1).describe('a host name or address'),
  port: z.number().int().min(1).max(65_535).describe('its port'),
});

export const redisStoreSchema = z
  .strictObject({
    url: z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .optional()
      .describe('single node: redis://[user:password@]host:port[/db]')
      .meta({ examples: ['rediss://redis.internal:6380/0'] }),
    sentinels: z
      .array(hostPort)
      .min(1)
      .optional()
      .describe('Sentinel: the sentinels; with `name`')
      .meta({
        examples: [
          [
            { host: 'sentinel-0.redis', port: 26379 },
            { host: 'sentinel-1.redis', port: 26379 },
          ],
        ],
      }),
    name: z.string().min(1).optional().describe('Sentinel: the master group name'),
    cluster: z.array(hostPort).min(1).optional().describe('Cluster: seed nodes'),
    username: z.string().min(1).optional().describe('the Redis ACL user (AUTH username)'),
    password: z
      .string()
      .min(1)
      .optional()
      .describe('the Redis password (AUTH); never logged')
      .meta({ examples: ['${REDIS_PASSWORD}'] }),
    tls: z.boolean().default(false).describe('TLS to Redis (with sentinels: to the master)'),
    sentinelTls: z.boolean().default(false).describe('TLS to the sentinels themselves'),
    keyPrefix: z
      .string()
      .regex(/^[\w:.-]{1,64}$/)
      .default('authbridge')
      .describe('every key is `{keyPrefix}:…` (hash-tagged for Cluster)'),
    commandTimeoutMs: z.number().int().min(20).max(10_000).default(500).describe('a Redis command not answered within this fails as a store outage'),
    connectTimeoutMs: z.number().int().min(100).max(60_000).default(5_000).describe('connecting to Redis (at start, and each reconnection) fails after this'),
    inboundJtiReplicas: z
      .strictObject({
        count: z.number().int().min(1).max(16).describe('replicas that must acknowledge the record (Redis WAIT numreplicas)'),
        timeoutMs: z
          .number()
          .int()
          .min(1)
          .max(10_000)
          .default(100)
          .describe('how long to wait for them (WAIT timeout); fewer acknowledgements by then: refused as a store outage'),
      })
      .optional()
      .describe(
        'off by default. Accept an inbound client assertion only once its jti record is on `count` replicas too (Redis WAIT), so a failover cannot forget it and accept a replay; a lagging or lost replica then delays inbound-JWT requests by up to timeoutMs and refuses them (503). Not with cluster',
      ),
  })
  .describe('where Redis is: set exactly one of url, sentinels (with name) or cluster')
  .superRefine((r, ctx) => {
    const modes = [r.url, r.sentinels, r.cluster].filter((m) => m !== undefined).length;
    if (modes !== 1) ctx.addIssue({ code: 'custom', message: 'set exactly one of url, sentinels (+ name) or cluster' });
    if (r.sentinels && !r.name) ctx.addIssue({ code: 'custom', path: ['name'], message: 'required with sentinels' });
    if (r.cluster && r.inboundJtiReplicas)
      ctx.addIssue({
        code: 'custom',
        path: ['inboundJtiReplicas'],
        message:
          'is not supported with cluster: WAIT counts the writes of one connection to one node, and the Cluster client may send it to another node than the one holding the record, which would count nothing and pass. Use url or sentinels (a primary with replicas), or remove inboundJtiReplicas',
      });
  });

export const storeSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('memory') }).describe('in the process: one replica, one worker, nothing to run; lost on restart'),
    z
      .strictObject({ type: z.literal('redis'), redis: redisStoreSchema })
      .describe('shared by every replica and worker, and kept across restarts: single node, Sentinel or Cluster'),
  ])
  .describe('what replicas and workers share: assertion ids (jti), throttle counters, managed keys, the Basic encoding each IdP took');
