import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AuthbridgeError } from '../errors.js';

/** A CA bundle that cannot be used; the message is fit for a config error at the file's path. */
export class CaBundleError extends AuthbridgeError<'ERR_CA_BUNDLE'> {
  constructor(message: string) {
    super('ERR_CA_BUNDLE', message);
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;

/**
 * Reads a PEM bundle (one certificate or several) and checks that each parses as X.509. Answers the
 * certificates, each as its own PEM. Read at start and on every reload: a renewed bundle is picked up then.
 */
export function loadCaBundle(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CaBundleError(`cannot read CA bundle ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const pems = text.match(PEM_CERTIFICATE) ?? [];
  if (pems.length === 0) throw new CaBundleError(`${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  pems.forEach((pem, i) => {
    try {
      new X509Certificate(pem);
    } catch {
      throw new CaBundleError(`${file}: certificate ${i + 1} of ${pems.length} is not a valid X.509 certificate`);
    }
  });
  return pems;
}
