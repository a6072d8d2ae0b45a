/**
 * Doctor's check 2: each client's method and alg against what the IdP lists (token_endpoint_auth_methods_supported,
 * token_endpoint_auth_signing_alg_values_supported), and for `method: auto` what it would choose.
 */
import { AutoOutbound } from '../outbound/auto.js';
import { DEFAULT_LISTED_METHOD, rowOf, type ConfiguredMethod } from '../outbound/methods.js';
import { formatPath } from '../config/errors.js';
import { resolveClient } from '../config/outbound-settings.js';
import type { ClientConfig } from '../config/schema.js';
import type { SigningKey } from '../keys/signing-key.js';
import { fail, ok, warn, type Check } from './report.js';
import { outboundFor, type UpstreamContext } from './upstream.js';

/** 2. each client's method (and alg) listed by the IdP; `method: auto`: what it chooses. */
export async function checkMethods(ctx: UpstreamContext, signers: ReadonlyMap<ClientConfig, SigningKey>, checks: Check[]): Promise<void> {
  const meta = ctx.metadata;
  if (!meta) return;
  const methods = Array.isArray(meta.token_endpoint_auth_methods_supported) ? meta.token_endpoint_auth_methods_supported : undefined;
  const algs = Array.isArray(meta.token_endpoint_auth_signing_alg_values_supported) ? meta.token_endpoint_auth_signing_alg_values_supported : undefined;
  for (const [i, client] of ctx.upstream.clients.entries()) {
    const id = client.clientId;
    const at = (...path: (string | number)[]) => formatPath(['upstreams', ctx.name, 'clients', i, 'upstream', ...path]);
    const settings = resolveClient(ctx.upstream, client);
    // the name the IdP lists it as (a platform-issued assertion, jwt_bearer_assertion, is its private_key_jwt)
    const configured = rowOf(client.upstream.method);
    let method = (configured.listedAs ?? client.upstream.method) as ConfiguredMethod;
    if (configured.chooses) {
      const auth = outboundFor(ctx, client, signers.get(client));
      const choice = await (auth as AutoOutbound).choose(() => ctx.resolver.metadata());
      if (choice.method === undefined) {
        checks.push(
          fail(
            'method',
            `auto: ${choice.reason}`,
            `give the client a credential for a method the IdP lists (a key, or ${at('clientSecret')}), or set ${at('method')} to one it lists`,
            id,
          ),
        );
        continue;
      }
      method = choice.method;
      checks.push(ok('method', `auto chooses ${method}${methods ? '' : ' (the IdP lists no methods: RFC 8414 default client_secret_basic)'}`, id));
    } else if (!methods) {
      if (method === DEFAULT_LISTED_METHOD) checks.push(ok('method', `${method} (the IdP lists no methods; RFC 8414's default)`, id));
      else
        checks.push(
          warn(
            'method',
            `${method}: not advertised (the IdP publishes no token_endpoint_auth_methods_supported; RFC 8414's default is client_secret_basic)`,
            `confirm at the IdP that the client is registered for ${method}; run doctor --probe ${id} to try it`,
            id,
          ),
        );
    } else if (!methods.includes(method)) {
      checks.push(
        fail(
          'method',
          `${method} is not in the IdP's token_endpoint_auth_methods_supported (${methods.join(', ') || 'empty'})`,
          `set ${at('method')} to one the IdP lists (and register the client with it), or enable ${method} at the IdP`,
          id,
        ),
      );
      continue;
    } else checks.push(ok('method', `${method} (listed by the IdP)`, id));
    const row = rowOf(method);
    const assertion = row.signsWithKey === 'always' ? settings.keyAssertion : row.macs === 'always' ? settings.secretAssertion : undefined;
    if (!assertion) continue;
    if (!algs)
      checks.push(
        warn(
          'alg',
          `${assertion.alg}: not advertised (the IdP publishes no token_endpoint_auth_signing_alg_values_supported)`,
          `confirm at the IdP that it accepts ${assertion.alg} assertions; doctor --probe ${id} tries one`,
          id,
        ),
      );
    else if (!algs.includes(assertion.alg))
      checks.push(
        fail(
          'alg',
          `${assertion.alg} is not in the IdP's token_endpoint_auth_signing_alg_values_supported (${algs.join(', ') || 'empty'})`,
          `set ${at(row.macs === 'always' && configured.chooses ? 'hmacAlg' : 'alg')} to one the IdP lists (a key of that type for a signature alg)`,
          id,
        ),
      );
    else checks.push(ok('alg', `${assertion.alg} (listed by the IdP)`, id));
  }
}
