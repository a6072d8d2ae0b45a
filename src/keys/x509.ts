/** @peculiar/x509, loaded after the Reflect metadata it needs, on Node's WebCrypto. Import X.509 classes from here. */
import 'reflect-metadata'; // tsyringe, a dependency of @peculiar/x509, needs the Reflect metadata API at import
import { webcrypto } from 'node:crypto';
import { cryptoProvider } from '@peculiar/x509';

cryptoProvider.set(webcrypto as unknown as Parameters<typeof cryptoProvider.set>[0]);

export {
  BasicConstraintsExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  PemConverter,
  SubjectKeyIdentifierExtension,
  X509Certificate,
  X509CertificateGenerator,
} from '@peculiar/x509';
