/** `key: { pkcs11 }`: a key in a PKCS#11 token (HSM), opened at start; it signs there, and its key closes the sessions. */
import { formatPath } from '../../config/errors.js';
import { openPkcs11Key, Pkcs11KeyError, type Pkcs11KeyConfig } from '../pkcs11.js';
import type { KeySource, OpenedKeys } from './types.js';

export type Pkcs11SourceConfig = { readonly pkcs11: Pkcs11KeyConfig };

export const pkcs11Source: KeySource<Pkcs11SourceConfig> = {
  async open(config, { alg, path }): Promise<OpenedKeys> {
    try {
      return { keys: [await openPkcs11Key(config.pkcs11, alg)], issues: [], warnings: [] };
    } catch (err) {
      if (!(err instanceof Pkcs11KeyError)) throw err;
      return { keys: [], issues: [{ path: formatPath([...path, 'pkcs11', ...(err.field ? [err.field] : [])]), message: err.message }], warnings: [] };
    }
  },

  describe: (config) => `PKCS#11 ${config.pkcs11.module}`,
};
