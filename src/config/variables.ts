import { randomBytes } from 'node:crypto';
import { formatPath, type ConfigIssue } from './errors.js';

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
/** in the YAML text: `$${NAME}` whole (its `}` would end a flow mapping too), a bare `$${`, or `${NAME}` */
const TEXT_REFERENCE = /\$\$\{(?:[A-Za-z_][A-Za-z0-9_]*\})?|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * `${VAR}` references taken out of the YAML text before parsing. A reference written unquoted in a flow mapping
 * (`{ clientSecret: ${S} }`) would end the mapping at its `}`; as a placeholder (letters, digits, underscores: a
 * plain scalar anywhere) it parses as the scalar the user meant, and the value goes in after parsing, one string
 * at a time, so a value can never become YAML.
 */
export interface EnvReferences {
  /** the YAML text with every reference replaced by its placeholder */
  readonly text: string;
  /** placeholder → variable name, or the literal text of a `$${` escape */
  readonly names: ReadonlyMap<string, string | { literal: string }>;
  /** matches every placeholder (global) */
  readonly pattern: RegExp;
  /** an offset in `text` → the offset in the original text (for the line and column of a YAML error) */
  originalOffset(offset: number): number;
}

export function extractReferences(original: string): EnvReferences {
  let prefix: string;
  do prefix = `_authbridge_env_${randomBytes(6).toString('hex')}_`;
  while (original.includes(prefix)); // never a collision with the user's own text
  const names = new Map<string, string | { literal: string }>();
  const shifts: { at: number; end: number; from: number; delta: number }[] = [];
  let delta = 0;
  const text = original.replace(TEXT_REFERENCE, (match, name: string | undefined, offset: number) => {
    const placeholder = `${prefix}${names.size}_`;
    names.set(placeholder, name ?? { literal: match.slice(1) });
    const at = offset + delta;
    delta += placeholder.length - match.length;
    shifts.push({ at, end: at + placeholder.length, from: offset, delta });
    return placeholder;
  });
  return {
    text,
    names,
    pattern: new RegExp(`${prefix}\\d+_`, 'g'),
    originalOffset(offset) {
      let mapped = offset;
      for (const s of shifts) {
        if (offset < s.at) break;
        mapped = offset < s.end ? s.from : offset - s.delta;
      }
      return mapped;
    },
  };
}

/** The text a user wrote for the placeholders in `s` (for messages that quote it). */
export function restoreReferences(s: string, refs: EnvReferences | undefined): string {
  if (!refs) return s;
  return s.replace(refs.pattern, (p) => {
    const ref = refs.names.get(p)!;
    return typeof ref === 'string' ? `\${${ref}}` : `$${ref.literal}`;
  });
}

const UNSET_PREFIX = 'environment variable ';

/** Whether a config issue is a `${VAR}` reference to a variable that is not set or empty (substituteEnv's). */
export const isUnsetVariableIssue = (issue: ConfigIssue): boolean => issue.message.startsWith(UNSET_PREFIX);

/**
 * Replaces `${VAR}` (or its placeholder) in every string of a parsed config tree with the environment's value
 * (`$${` stands for a literal `${`). A missing or empty variable is an issue at the path of the string that names
 * it. Mapping keys are names, not values: a reference in one is reported, never replaced.
 */
export function substituteEnv(tree: unknown, env: NodeJS.ProcessEnv, issues: ConfigIssue[], refs?: EnvReferences, path: PropertyKey[] = []): unknown {
  if (typeof tree === 'string') {
    const resolve = (match: string, name: string) => {
      const value = env[name];
      if (value === undefined || value === '') {
        issues.push({ path: formatPath(path), message: `${UNSET_PREFIX}${name} is ${value === undefined ? 'not set' : 'empty'}` });
        return `\${${name}}`;
      }
      return value ?? match;
    };
    // one pass over both forms, so a value that itself contains `${…}` or a placeholder is never resolved again
    const pattern = refs ? new RegExp(`${REFERENCE.source}|${refs.pattern.source}`, 'g') : REFERENCE;
    return tree.replace(pattern, (match: string, name: string | undefined) => {
      const ref = refs?.names.get(match);
      if (ref !== undefined) return typeof ref === 'string' ? resolve(match, ref) : ref.literal;
      if (name === undefined) return '${';
      return resolve(match, name);
    });
  }
  if (Array.isArray(tree)) return tree.map((item, i) => substituteEnv(item, env, issues, refs, [...path, i]));
  if (tree !== null && typeof tree === 'object') {
    const out: Record<string, unknown> = {};
    for (const [rawKey, value] of Object.entries(tree)) {
      const key = restoreReferences(rawKey, refs);
      if (key !== rawKey)
        issues.push({ path: formatPath([...path, key]), message: 'a field or upstream name cannot come from an environment variable; write the name itself' });
      out[key] = substituteEnv(value, env, issues, refs, [...path, key]);
    }
    return out;
  }
  return tree;
}
