import { createPrivateKey, X509Certificate as NodeX509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { formatPath, type ConfigIssue } from '../config/errors.js';
import type { ClientConfig, SigningAlg } from '../config/schema.js';
import { certificateProblems, loadCertificate } from './certificate.js';
import { keyFileEntries, keyFileModeWarning } from './key-files.js';
import { presentsCertificate, rowOf } from '../outbound/methods.js';
import type { OutboundFields } from '../config/outbound-schema.js';
import { importSigningKey, KeyLoadError, type KeyCertificate, type SigningKey } from './signing-key.js';

/**
 * RFC 8705 client certificates: what a client presents in the TLS handshake to its IdP (tls_client_auth,
 * self_signed_tls_client_auth, or private_key_jwt with `tlsCertificate`). Read at start and on every reload; every
 * problem is a config error at its path (unreadable, not a key, certificate not for this key, expired, not yet
 * valid); expiring within 30 days is a warning.
 */
export interface TlsClientCredential {
  /** PKCS#8 PEM, for the connection's `connect.key` */
  readonly keyPem: string;
  /** the certificate and its chain (PEM), for `connect.cert` */
  readonly certPem: string;
  readonly certificate: KeyCertificate;
  /** self_signed_tls_client_auth: the key with its certificate, as the JWKS publishes it (x5c) */
  readonly published?: SigningKey;
}

/** Where a client's TLS credential is configured: the files, their config paths, and whether its key is published. */
export interface TlsCredentialEntry {
  readonly file: string;
  readonly certificate: string;
  readonly path: readonly PropertyKey[];
  readonly certificatePath: readonly PropertyKey[];
  readonly publish: boolean;
}

export interface LoadedTlsCredential {
  readonly credential?: TlsClientCredential;
  readonly issues: ConfigIssue[];
  readonly warnings: ConfigIssue[];
}

/**
 * Whether the client presents its managed key's self-signed certificate in the TLS handshake
 * (self_signed_tls_client_auth, or private_key_jwt with tlsCertificate: signingKey, with key: managed): a pool that
 * follows the key's rotation presents it (upstream/mtls.ts), not a credential read from files.
 */
export function presentsManagedKey(client: ClientConfig): boolean {
  const out: OutboundFields = client.upstream;
  // a client that is its certificate: self_signed_tls_client_auth (tls_client_auth takes no managed key)
  if (rowOf(out.method).presentsCertificate === 'always') return out.key === 'managed';
  return presentsCertificate(out) && out.tlsCertificate === 'signingKey' && out.key === 'managed' && out.certificate !== undefined;
}

/**
 * The TLS credential a client's config names, if any; `clientPath` is `upstreams.X.clients.i.upstream`. A problem
 * that needs no file read (tlsCertificate: signingKey without a key file certificate) is returned as an issue.
 */
export function tlsCredentialEntry(client: ClientConfig, clientPath: readonly PropertyKey[]): TlsCredentialEntry | ConfigIssue | undefined {
  const out: OutboundFields = client.upstream;
  const row = rowOf(out.method);
  // a client that is its certificate, in key files: { file, certificate }
  if (row.presentsCertificate === 'always' && out.key !== 'managed') {
    const key = out.key as { file: string; certificate: string };
    return { ...key, path: [...clientPath, 'key', 'file'], certificatePath: [...clientPath, 'key', 'certificate'], publish: row.publishesCertificate };
  }
  // one that may present one as well (private_key_jwt's tlsCertificate)
  const tls = out.tlsCertificate;
  if (!presentsCertificate(out) || tls === undefined || presentsManagedKey(client)) return undefined;
  if (tls !== 'signingKey')
    return { ...tls, path: [...clientPath, 'tlsCertificate', 'file'], certificatePath: [...clientPath, 'tlsCertificate', 'certificate'], publish: false };
  const entry = keyFileEntries(out.key, [...clientPath, 'key'])[0];
  if (entry?.certificate === undefined)
    return {
      path: formatPath([...clientPath, 'tlsCertificate']),
      message:
        "signingKey reuses the signing key's certificate: the client needs key: { file, certificate }, or key: managed with certificate: { selfSigned: true }",
    };
  return { file: entry.file, certificate: entry.certificate, path: entry.path, certificatePath: entry.certificatePath, publish: false };
}

/** Reads a client certificate and its key, and checks that they belong together and that the certificate is valid now. */
export async function loadTlsCredential(entry: TlsCredentialEntry, now = Date.now()): Promise<LoadedTlsCredential> {
  const issues: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const at = (path: readonly PropertyKey[], message: string) => issues.push({ path: formatPath(path), message });
  let key: KeyObject | undefined;
  let keyText = '';
  try {
    keyText = readFileSync(entry.file, 'utf8');
    key = keyText.trimStart().startsWith('{') ? createPrivateKey({ key: JSON.parse(keyText) as never, format: 'jwk' }) : createPrivateKey(keyText);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    at(
      entry.path,
      code?.startsWith('E') && !code.startsWith('ERR_')
        ? `cannot read key file ${entry.file}: ${code}`
        : `${entry.file} is not a private key in PEM or JWK form`,
    );
  }
  let certificate: KeyCertificate | undefined;
  try {
    certificate = loadCertificate(entry.certificate);
  } catch (err) {
    if (!(err instanceof KeyLoadError)) throw err;
    at(entry.certificatePath, err.message);
  }
  if (!key || !certificate) return { issues, warnings };
  if (!new NodeX509Certificate(Buffer.from(certificate.x5c[0]!, 'base64')).checkPrivateKey(key))
    at(
      entry.certificatePath,
      `${entry.certificate}: the certificate (${certificate.subject}) is not for the key in ${entry.file}: its public key is another one`,
    );
  for (const { level, message } of certificateProblems(certificate, now))
    (level === 'error' ? issues : warnings).push({ path: formatPath(entry.certificatePath), message: `${entry.certificate}: ${message}` });
  let published: SigningKey | undefined;
  if (entry.publish && issues.length === 0) {
    const alg = publishAlg(key);
    if (!alg) at(entry.path, `${entry.file}: a self-signed client certificate is published in the JWKS: use an EC P-256, RSA or Ed25519 key`);
    else
      try {
        published = await importSigningKey(keyText, alg, `key file ${entry.file}`, certificate);
      } catch (err) {
        if (!(err instanceof KeyLoadError)) throw err;
        at(entry.path, err.message);
      }
  }
  if (issues.length > 0) return { issues, warnings };
  const exposed = keyFileModeWarning(entry.file, entry.path);
  if (exposed) warnings.push(exposed);
  const keyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { credential: Object.freeze({ keyPem, certPem: certificate.pem, certificate, ...(published ? { published } : {}) }), issues, warnings };
}

/** The alg a self-signed client certificate's key is published with (its JWK needs one): by key type. */
function publishAlg(key: KeyObject): SigningAlg | undefined {
  const type = key.asymmetricKeyType;
  if (type === 'ec') return key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? 'ES256' : undefined;
  if (type === 'ed25519') return 'EdDSA';
  if (type === 'rsa') return (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048 ? 'RS256' : undefined;
  return undefined;
}
