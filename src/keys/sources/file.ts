/** Key files (`key: { file, certificate }` or `key: { files: [...] }`): read and imported at start, never changed. */
import { formatPath } from '../../config/errors.js';
import { keyFileEntries, loadKeyFile } from '../key-files.js';
import type { KeyFilesConfig } from '../../config/key-source-schema.js';
import type { SigningKey } from '../signing-key.js';
import type { KeySource, OpenedKeys } from './types.js';

export type { KeyFilesConfig };

export const fileSource: KeySource<KeyFilesConfig> = {
  async open(config, { alg, path: keyPath, now, algByKid }): Promise<OpenedKeys> {
    const keys: SigningKey[] = [];
    const issues: OpenedKeys['issues'] = [];
    const warnings: OpenedKeys['warnings'] = [];
    for (const entry of keyFileEntries(config, keyPath)) {
      const path = formatPath(entry.path);
      const result = await loadKeyFile(entry, alg, now);
      issues.push(...result.issues);
      warnings.push(...result.warnings);
      const key = result.key;
      if (!key) continue;
      const first = algByKid.get(key.kid);
      if (first && first.alg !== key.alg)
        issues.push({ path, message: `the same key is used with ${first.alg} at ${first.path}; a published key has one alg — use a separate key` });
      algByKid.set(key.kid, first ?? { alg: key.alg, path });
      keys.push(key);
    }
    return { keys, issues, warnings };
  },

  describe(config) {
    const first = config.file ?? ('files' in config ? config.files?.[0] : undefined);
    return typeof first === 'string' ? first : (first?.file ?? '?');
  },
};
