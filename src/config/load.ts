import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { extractReferences, restoreReferences, substituteEnv, type EnvReferences } from './variables.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import { toConfigIssues } from './messages.js';
import { configSchema, upstreamSchema, type Config } from './schema.js';

export const DEFAULT_CONFIG_FILE = 'config/authbridge.yaml';

/** The config file to use: an explicit path, else `AUTHBRIDGE_CONFIG`, else `config/authbridge.yaml`. */
export function configPath(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return explicit ?? env.AUTHBRIDGE_CONFIG ?? DEFAULT_CONFIG_FILE;
}

/** Reads, parses and validates a config file. Throws ConfigError listing every problem with its path. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: '', message: `cannot read config file: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  }
  return parseConfig(text, file, env);
}

const UNVALIDATED = new WeakMap<ConfigError, unknown>();

/**
 * A ConfigError of the schema, with the document it refused (environment substituted): what a later check reads
 * to report more in the same round (keys/key-files.ts: loadConfigFileChecked). undefined for any other error.
 */
export function unvalidatedOf(err: unknown): { error: ConfigError; resolved: unknown } | undefined {
  return err instanceof ConfigError && UNVALIDATED.has(err) ? { error: err, resolved: UNVALIDATED.get(err) } : undefined;
}

/** Parses and validates config text (YAML or JSON). `${VAR}` may stand anywhere a value can (see env.ts). */
export function parseConfig(text: string, source: string, env: NodeJS.ProcessEnv = process.env): Config {
  const refs = extractReferences(text);
  const doc = parseDocument(refs.text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => ({
        path: position(text, refs.originalOffset(e.pos[0])),
        message: restoreReferences(e.message.split(/ at line \d+|\n/)[0]!, refs),
      })),
    );
  }
  const raw: unknown = doc.toJS();
  if (raw === null || raw === undefined) throw new ConfigError(source, [{ path: '', message: 'config file is empty' }]);
  return validateTree(raw, source, env, refs);
}

/** Validates an already-parsed config tree (strings may still hold `${VAR}` references). */
export function validateConfig(raw: unknown, source: string, env: NodeJS.ProcessEnv = process.env): Config {
  return validateTree(raw, source, env, undefined);
}

function validateTree(raw: unknown, source: string, env: NodeJS.ProcessEnv, refs: EnvReferences | undefined): Config {
  const issues: ConfigIssue[] = [];
  const resolved = substituteEnv(raw, env, issues, refs);
  const result = configSchema.safeParse(resolved);
  if (!result.success) {
    // A field whose variable is missing already has its issue; checks of the unresolved text would mislead.
    const unresolved = new Set(issues.map((i) => i.path));
    issues.push(
      ...toConfigIssues(withBadlyNamedUpstreams(result.error.issues, resolved), configSchema, resolved).filter(
        (i) => !unresolved.has(i.path.replace(/ \(name\)$/, '')),
      ),
    );
  }
  if (issues.length > 0) {
    const error = new ConfigError(source, issues);
    if (!result.success) UNVALIDATED.set(error, resolved); // for loadConfigFileChecked; never on the error itself (logs)
    throw error;
  }
  return deepFreeze(result.data!);
}

/**
 * zod does not look inside an upstream whose name it refused; checking it anyway reports its problems in the
 * same round as the name's.
 */
function withBadlyNamedUpstreams(issues: z.core.$ZodIssue[], resolved: unknown): z.core.$ZodIssue[] {
  const upstreams = (resolved as { upstreams?: Record<string, unknown> }).upstreams;
  return issues.flatMap((issue) => {
    if (issue.code !== 'invalid_key' || issue.path.length !== 2 || issue.path[0] !== 'upstreams' || !upstreams) return [issue];
    const inner = upstreamSchema.safeParse(upstreams[String(issue.path[1])]);
    return [issue, ...(inner.success ? [] : inner.error.issues.map((i) => ({ ...i, path: [...issue.path, ...i.path] })))];
  });
}

/** `line L, column C` (1-based) of an offset in the text as the user wrote it. */
function position(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `line ${line}, column ${offset - before.lastIndexOf('\n')}`;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
