import { AuthbridgeError } from '../errors.js';

/** Raised for an unusable key or certificate file; the message is safe to print (it never quotes key material). */
export class KeyLoadError extends AuthbridgeError<'ERR_KEY_LOAD' | 'ERR_PKCS11_KEY'> {
  constructor(message: string, code: 'ERR_KEY_LOAD' | 'ERR_PKCS11_KEY' = 'ERR_KEY_LOAD') {
    super(code, message);
  }
}
