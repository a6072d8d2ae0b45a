/**
 * Doctor's check 3: the JWKS URL the IdP fetches (server.publicUrl/{upstream}/jwks.json), fetched from here: reachable,
 * and holding the kid each key-signing client signs with.
 */
import { resolveClient } from '../config/outbound-settings.js';
import type { ClientConfig, Config } from '../config/schema.js';
import type { SigningKey } from '../keys/signing-key.js';
import { UpstreamError } from '../upstream/failure.js';
import { UpstreamClient } from '../upstream/http.js';
import { fail, ok, warn, type Check } from './report.js';
import { failureText, type UpstreamContext } from './upstream.js';

/** 3. the JWKS URL the IdP fetches, from here: reachable, and holding the kid each key-signing client signs with. */
export async function checkJwks(ctx: UpstreamContext, config: Config, signers: ReadonlyMap<ClientConfig, SigningKey>, checks: Check[]): Promise<void> {
  const clients = ctx.upstream.clients.filter((c) => {
    const settings = resolveClient(ctx.upstream, c);
    return settings.keyAssertion !== undefined && !settings.profile.profile.requiresCertificate;
  });
  if (clients.length === 0) return;
  const base = config.server.publicUrl?.replace(/\/$/, '');
  if (base === undefined) {
    for (const c of clients)
      checks.push(
        warn(
          'jwks',
          'server.publicUrl is unset: the JWKS URL the IdP fetches cannot be checked from here',
          `set server.publicUrl to the base URL the IdP reaches authbridge at; the IdP's jwks_uri is then {publicUrl}/${ctx.name}/jwks.json`,
          c.clientId,
        ),
      );
    return;
  }
  const url = `${base}/${ctx.name}/jwks.json`;
  const fetched = await fetchJwks(ctx, url);
  for (const c of clients) {
    const kid = signers.get(c)?.kid;
    if (typeof fetched === 'string') {
      checks.push(
        fail(
          'jwks',
          `${url}: ${fetched}`,
          `make ${url} reachable (is authbridge running, and is server.publicUrl the address it is reached at?): the IdP fetches it to verify the assertions`,
          c.clientId,
        ),
      );
      continue;
    }
    if (kid === undefined)
      checks.push(warn('jwks', `${url}: reachable, ${fetched.size} key(s); the client's signing kid is unknown here`, 'see the key check above', c.clientId));
    else if (!fetched.has(kid))
      checks.push(
        fail(
          'jwks',
          `${url} does not hold kid ${kid}, which this client signs with`,
          'reload or restart authbridge with this config (it publishes other keys), and check server.publicUrl points at it',
          c.clientId,
        ),
      );
    else checks.push(ok('jwks', `${url} holds kid ${kid}`, c.clientId));
  }
}

/** The kids of a JWKS, or why it could not be read. Its own client: authbridge's Date header is not the IdP's clock. */
async function fetchJwks(ctx: UpstreamContext, url: string): Promise<Set<string> | string> {
  const http = new UpstreamClient({ timeoutMs: ctx.upstream.timeoutMs, ...(ctx.ca ? { ca: ctx.ca } : {}), proxy: ctx.upstream.proxy, env: ctx.env });
  try {
    const res = await http.send({ method: 'GET', url: new URL(url), headers: { accept: 'application/json' } });
    if (res.status !== 200) return `answered HTTP ${res.status}`;
    const doc = JSON.parse(res.body.toString('utf8')) as { keys?: unknown };
    if (!Array.isArray(doc.keys)) return 'the answer is not a JWKS (no keys array)';
    return new Set(doc.keys.map((k: { kid?: unknown }) => k?.kid).filter((k): k is string => typeof k === 'string'));
  } catch (err) {
    if (err instanceof UpstreamError) return failureText(err);
    if (err instanceof SyntaxError) return 'the answer is not JSON';
    throw err;
  } finally {
    await http.close();
  }
}
