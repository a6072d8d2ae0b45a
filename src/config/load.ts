import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { substituteEnv } from './env.js';
import { ConfigError, formatPath, type ConfigIssue } from './errors.js';
import { configSchema, type Config } from './schema.js';

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

/** Parses and validates config text (YAML or JSON). */
export function parseConfig(text: string, source: string, env: NodeJS.ProcessEnv = process.env): Config {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => ({
        path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '',
        message: e.message.split(/ at line \d+|\n/)[0]!,
      })),
    );
  }
  const raw: unknown = doc.toJS();
  if (raw === null || raw === undefined) throw new ConfigError(source, [{ path: '', message: 'config file is empty' }]);
  return validateConfig(raw, source, env);
}

/** Validates an already-parsed config tree (strings may still hold `${VAR}` references). */
export function validateConfig(raw: unknown, source: string, env: NodeJS.ProcessEnv = process.env): Config {
  const issues: ConfigIssue[] = [];
  const resolved = substituteEnv(raw, env, issues);
  const result = configSchema.safeParse(resolved);
  if (!result.success) {
    // A field whose variable is missing already has its issue; checks of the unresolved text would mislead.
    const unresolved = new Set(issues.map((i) => i.path));
    issues.push(...result.error.issues.flatMap(toConfigIssues).filter((i) => !unresolved.has(i.path)));
  }
  if (issues.length > 0) throw new ConfigError(source, issues);
  return deepFreeze(result.data!);
}

function toConfigIssues(issue: z.core.$ZodIssue): ConfigIssue[] {
  const path = formatPath(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: 'unknown field' }));
    case 'invalid_key':
      return issue.issues.map((inner) => ({ path: `${path} (name)`, message: inner.message }));
    default:
      return [{ path, message: issue.message }];
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
