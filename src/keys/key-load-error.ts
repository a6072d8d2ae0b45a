/** Raised for an unusable key or certificate file; the message is safe to print (it never quotes key material). */
export class KeyLoadError extends Error {
  override name = 'KeyLoadError';
}
