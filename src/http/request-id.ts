import { randomUUID } from 'node:crypto';
import type { Context } from 'hono';
import type { AppEnv } from './context.js';

/** A caller's X-Request-Id is kept when it is 1–128 of these characters (hono's requestId rule); else a new UUID. */
const CALLER_ID = /^[\w\-=]{1,128}$/;

/**
 * The request id: the caller's `X-Request-Id` when it is safe to echo and log, else a random UUID; the IdP gets it
 * too (hono's requestId rule, without its middleware: see sendRequestId).
 */
export function assignRequestId(c: Context<AppEnv>): void {
  const given = c.req.header('x-request-id');
  c.set('requestId', given !== undefined && CALLER_ID.test(given) ? given : randomUUID());
}

/**
 * Every response carries the request id, and `X-Content-Type-Options: nosniff` (a browser must take authbridge's
 * JSON for JSON, whatever it looks like). A route that builds its response with `plainResponse` has put both in
 * there; any other response gets them once the route is done. (hono's middleware sets it before the route, which makes every
 * response, the token endpoint's too, go through a web Headers object, the costliest part of answering.)
 */
export function sendRequestId(c: Context<AppEnv>): void {
  if (c.get('requestIdSent')) return;
  c.header('X-Request-Id', c.get('requestId'));
  c.header('X-Content-Type-Options', 'nosniff');
}
