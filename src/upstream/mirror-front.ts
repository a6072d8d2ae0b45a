import type { MetadataDocument } from './mirror.js';

/**
 * What a broker need no longer do once authbridge makes its authorization requests (GET|POST /{upstream}/authorize):
 * push them (RFC 9126), sign them (RFC 9101). The IdP's requirements are authbridge's to meet, and a broker that read
 * them would push to the IdP itself, or send a request_uri or request object authbridge refuses.
 */
const AUTHBRIDGE_DOES = [
  'pushed_authorization_request_endpoint',
  'pushed_authorization_request_endpoint_auth_methods_supported',
  'require_pushed_authorization_requests',
  'require_signed_request_object',
  'request_object_signing_alg_values_supported',
  'request_object_encryption_alg_values_supported',
  'request_object_encryption_enc_values_supported',
];

/**
 * The mirror of an upstream with clients that have redirectUris: `authorization_endpoint` is authbridge's
 * (`{base}/authorize`), PAR and request objects are gone from it (AUTHBRIDGE_DOES), and it says that authbridge takes
 * neither `request` nor `request_uri` (OIDC Discovery §3: request_uri_parameter_supported defaults to true). An IdP
 * without an authorization endpoint gets none.
 */
export function advertiseAuthorize(doc: MetadataDocument, base: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...doc };
  if (!('authorization_endpoint' in doc)) return out;
  out.authorization_endpoint = `${base}/authorize`;
  for (const member of AUTHBRIDGE_DOES) delete out[member];
  out.request_parameter_supported = false;
  out.request_uri_parameter_supported = false;
  return out;
}
