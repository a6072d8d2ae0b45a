/**
 * Which connection a userinfo request goes out on (docs/id-token.md, "Which client's connection"): a token bound to a
 * TLS client certificate (RFC 8705 §3) is accepted by the IdP only with that certificate, and authbridge cannot tell
 * from an opaque token which of its clients obtained it. The rule, first that applies:
 * 1. a JWT access token's `cnf.x5t#S256`: the client presenting that certificate;
 * 2. `userinfo.client`: the client the upstream names;
 * 3. the upstream's one client that presents a certificate;
 * 4. no client presents one: the upstream's shared connection (no certificate: an unbound token needs none);
 * otherwise (several do, and nothing says which) the request is refused rather than guessed.
 */
import { invalidRequest } from '../../errors.js';
import { certificateBinding } from '../../inbound/bearer.js';
import type { ClientRuntime, UpstreamRuntime } from '../../runtime/types.js';
import type { UpstreamSender } from '../../upstream/http.js';

export interface UserinfoConnection {
  /** the client whose connection it is; undefined: the upstream's shared one */
  readonly client?: ClientRuntime;
  readonly http: UpstreamSender;
  /** it presents a TLS client certificate: the IdP's mTLS alias of the userinfo endpoint applies (RFC 8705 §5) */
  readonly mtls: boolean;
}

export function userinfoConnection(upstream: UpstreamRuntime, token: string): UserinfoConnection {
  const presenting = [...upstream.clients.values()].filter((c) => c.certificateThumbprint !== undefined);
  const of = (client: ClientRuntime): UserinfoConnection => ({ client, http: client.http, mtls: client.certificateThumbprint !== undefined });
  const bound = presenting.length > 0 ? certificateBinding(token) : undefined;
  const byBinding = bound === undefined ? undefined : presenting.find((c) => c.certificateThumbprint!() === bound);
  if (byBinding) return of(byBinding);
  const named = upstream.userinfoClient === undefined ? undefined : upstream.clients.get(upstream.userinfoClient);
  if (named) return of(named);
  if (presenting.length === 1) return of(presenting[0]!);
  if (presenting.length === 0) return { http: upstream.http, mtls: false };
  throw invalidRequest(
    `several clients of upstream ${upstream.name} present TLS client certificates and the access token does not say which it is bound to: set upstreams.${upstream.name}.userinfo.client`,
    'ERR_USERINFO_CLIENT',
  );
}
