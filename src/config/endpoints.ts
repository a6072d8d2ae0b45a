/**
 * The client-authenticated endpoints authbridge bridges: each one's name, the discovery member (RFC 8414 / OIDC
 * Discovery / RFC 8628 / RFC 9126 / CIBA) that names it at the IdP, and the path authbridge serves it at
 * (`POST /{upstream}/{path}`). One table for the routes, the resolver and the discovery mirror; where an endpoint's
 * request differs from the others', a column says so (the pipeline reads it, http/pipeline/chain.ts):
 * - `grantCheck`: the caller must send a grant_type, and one its client may use (RFC 6749 §4, §5.2 unauthorized_client)
 * - `emptyBodyOk`: the IdP may answer 200 with an empty body (RFC 7009 §2.2), relayed as it is
 * - `needsClientId`: the body sent upstream carries client_id whatever the client's method: RFC 9126 §2.1 makes it a
 *   parameter of the authorization request the body is, not only a credential
 */
export const ENDPOINTS = [
  { name: 'token', metadata: 'token_endpoint', path: 'token', spec: 'RFC 6749 §3.2', grantCheck: true },
  { name: 'introspection', metadata: 'introspection_endpoint', path: 'introspect', spec: 'RFC 7662' },
  { name: 'revocation', metadata: 'revocation_endpoint', path: 'revoke', spec: 'RFC 7009', emptyBodyOk: true },
  { name: 'par', metadata: 'pushed_authorization_request_endpoint', path: 'par', spec: 'RFC 9126', needsClientId: true },
  { name: 'device_authorization', metadata: 'device_authorization_endpoint', path: 'device_authorization', spec: 'RFC 8628' },
  { name: 'backchannel_authentication', metadata: 'backchannel_authentication_endpoint', path: 'bc-authorize', spec: 'OpenID CIBA Core' },
] as const satisfies readonly EndpointColumns[];

interface EndpointColumns {
  readonly name: string;
  readonly metadata: `${string}_endpoint`;
  readonly path: string;
  readonly spec: string;
  readonly grantCheck?: true;
  readonly emptyBodyOk?: true;
  readonly needsClientId?: true;
}

export type EndpointName = (typeof ENDPOINTS)[number]['name'];
export type EndpointMetadataKey = (typeof ENDPOINTS)[number]['metadata'];

/** One row of the table, every column readable (a column a row leaves out is not its case). */
export interface EndpointSpec extends EndpointColumns {
  readonly name: EndpointName;
  readonly metadata: EndpointMetadataKey;
}
