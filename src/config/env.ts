import { formatPath, type ConfigIssue } from './errors.js';

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Replaces `${VAR}` in every string of a parsed config tree with the environment's value (`$${` stands for a
 * literal `${`). Substitution happens after YAML parsing, one scalar at a time, so a value can never inject
 * YAML structure. A missing or empty variable is an issue at the path of the string that names it.
 */
export function substituteEnv(tree: unknown, env: NodeJS.ProcessEnv, issues: ConfigIssue[], path: PropertyKey[] = []): unknown {
  if (typeof tree === 'string') {
    return tree.replace(REFERENCE, (match, name: string | undefined) => {
      if (name === undefined) return '${';
      const value = env[name];
      if (value === undefined || value === '') {
        issues.push({ path: formatPath(path), message: `environment variable ${name} is ${value === undefined ? 'not set' : 'empty'}` });
        return match;
      }
      return value;
    });
  }
  if (Array.isArray(tree)) return tree.map((item, i) => substituteEnv(item, env, issues, [...path, i]));
  if (tree !== null && typeof tree === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(tree)) out[key] = substituteEnv(value, env, issues, [...path, key]);
    return out;
  }
  return tree;
}
