// Child process of `npm run bench`: floor 2, the same passthrough on authbridge's own stack: hono on
// @hono/node-server, an undici Pool upstream. argv: <stub origin>. Reports { port } over IPC.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

const pool = new Pool(process.argv[2]!, { connections: 128, keepAliveTimeout: 60_000 });
const app = new Hono();
app.post('/token', async (c) => {
  const form = new URLSearchParams(await c.req.text());
  form.delete('client_secret');
  const up = await pool.request({
    method: 'POST',
    path: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: form.toString(),
  });
  const json = await up.body.text();
  return c.body(json, up.statusCode as 200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
});
const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) => process.send?.({ port: info.port }));
(server as unknown as { keepAliveTimeout: number }).keepAliveTimeout = 65_000;
process.on('disconnect', () => process.exit(0));
