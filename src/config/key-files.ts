import { KeyLoadError, loadSigningKey } from '../keys/signing-key.js';
import { formatPath, type ConfigIssue } from './errors.js';
import { SIGNING_ALGS, type SigningAlg } from './schema.js';

type Tree = Record<string, unknown>;
const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The key-file problems of a config that did not pass the schema: start-up reads key files only from a valid
 * config, so without this a file with a typo and a missing key file would take two rounds. Reads what it can
 * make out (private_key_jwt clients whose `alg` is valid or left to its default); nothing is kept.
 */
export async function keyFileIssues(resolved: unknown, known: readonly ConfigIssue[]): Promise<ConfigIssue[]> {
  const reported = new Set(known.map((i) => i.path));
  const issues: ConfigIssue[] = [];
  const upstreams = isTree(resolved) ? resolved.upstreams : undefined;
  if (!isTree(upstreams)) return issues;
  for (const [name, upstream] of Object.entries(upstreams)) {
    const clients = isTree(upstream) && Array.isArray(upstream.clients) ? upstream.clients : [];
    for (const [i, client] of clients.entries()) {
      const out = isTree(client) ? client.upstream : undefined;
      if (!isTree(out) || out.method !== 'private_key_jwt' || !isTree(out.key)) continue;
      const alg = out.alg ?? 'ES256';
      if (!(SIGNING_ALGS as readonly unknown[]).includes(alg)) continue; // the alg's own issue says enough
      const files = Array.isArray(out.key.files) ? out.key.files.map((f, j) => [f, ['files', j]] as const) : [[out.key.file, ['file']] as const];
      for (const [file, tail] of files) {
        const path = formatPath(['upstreams', name, 'clients', i, 'upstream', 'key', ...tail]);
        if (typeof file !== 'string' || file === '' || reported.has(path)) continue;
        try {
          await loadSigningKey(file, alg as SigningAlg);
        } catch (err) {
          if (!(err instanceof KeyLoadError)) throw err;
          issues.push({ path, message: err.message });
        }
      }
    }
  }
  return issues;
}
