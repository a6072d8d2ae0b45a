/**
 * The client-authenticated endpoints authbridge bridges: each one's name, the discovery member (RFC 8414 / OIDC
 * Discovery / RFC 8628 / RFC 9126 / CIBA) that names it at the IdP, and the path authbridge serves it at
 * (`POST /{upstream}/{path}`). One table for the routes, the resolver and the discovery mirror.
 */
export const ENDPOINTS = [
  { name: 'token', metadata: 'token_endpoint', path: 'token', spec: 'RFC 6749 §3.2' },
  { name: 'introspection', metadata: 'introspection_endpoint', path: 'introspect', spec: 'RFC 7662' },
  { name: 'revocation', metadata: 'revocation_endpoint', path: 'revoke', spec: 'RFC 7009' },
  { name: 'par', metadata: 'pushed_authorization_request_endpoint', path: 'par', spec: 'RFC 9126' },
  { name: 'device_authorization', metadata: 'device_authorization_endpoint', path: 'device_authorization', spec: 'RFC 8628' },
  { name: 'backchannel_authentication', metadata: 'backchannel_authentication_endpoint', path: 'bc-authorize', spec: 'OpenID CIBA Core' },
] as const;

export type EndpointName = (typeof ENDPOINTS)[number]['name'];
export type EndpointMetadataKey = (typeof ENDPOINTS)[number]['metadata'];
