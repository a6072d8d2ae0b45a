import type { z } from 'zod';
import { formatPath, type ConfigIssue } from './errors.js';

/**
 * zod issues → plain sentences with the field's path: no validation-library words ("Invalid input",
 * "discriminator"), allowed values named, and "did you mean …?" for a misspelt field or value. Values are
 * quoted only where they are names (fields, methods, algorithms), never where they could be secrets.
 */
export function toConfigIssues(issues: readonly z.core.$ZodIssue[], schema: z.ZodType, input: unknown): ConfigIssue[] {
  // A refinement judges its object without the fields it did not recognise: `clientSecert` would otherwise also be
  // reported as a missing clientSecret. One typo, one message.
  const typoObjects = issues.filter((i) => i.code === 'unrecognized_keys').map((i) => i.path);
  const kept = issues.filter((i) => i.code !== 'custom' || !typoObjects.some((p) => startsWith(i.path, p)));
  return kept.flatMap((issue) => describe(issue, schema, input));
}

function describe(issue: z.core.$ZodIssue, schema: z.ZodType, root: unknown): ConfigIssue[] {
  const path = formatPath(issue.path);
  const input = valueAt(root, issue.path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = objectKeys(schema, issue.path, root);
      return issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: `unknown field${suggest(key, known)}` }));
    }
    case 'invalid_key':
      return issue.issues.map((inner) => ({ path: `${path} (name)`, message: sentence(inner, issue.path.at(-1)) }));
    case 'invalid_union': {
      const discriminator = (issue as { discriminator?: string }).discriminator;
      const options = (issue as { options?: unknown[] }).options;
      if (discriminator !== undefined && options) {
        // zod reports the discriminator at the object's path or at the field's; name the field once
        const objectPath = issue.path.at(-1) === discriminator ? issue.path.slice(0, -1) : issue.path;
        const object = valueAt(root, objectPath);
        const value = typeof object === 'object' && object !== null ? (object as Record<string, unknown>)[discriminator] : undefined;
        return [{ path: formatPath([...objectPath, discriminator]), message: oneOf(value, options.map(String)) }];
      }
      return [{ path, message: unionSentence(issue, input) }];
    }
    default:
      return [{ path, message: sentence(issue, input) }];
  }
}

function sentence(issue: z.core.$ZodIssue, input: unknown): string {
  switch (issue.code) {
    case 'custom':
      return issue.message;
    case 'invalid_type':
      if (input === undefined) return 'required';
      return `must be ${TYPE_NOUNS[issue.expected] ?? issue.expected}, got ${kind(input)}`;
    case 'invalid_value':
      return oneOf(input, issue.values.map(String));
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const bound = Number(small ? (issue as { minimum: unknown }).minimum : (issue as { maximum: unknown }).maximum);
      const inclusive = issue.inclusive !== false;
      if (issue.origin === 'string') return small && bound === 1 ? 'must not be empty' : `must be at ${small ? 'least' : 'most'} ${bound} characters long`;
      if (issue.origin === 'array') return small && bound === 1 ? 'must list at least one entry' : `must list at ${small ? 'least' : 'most'} ${bound} entries`;
      if (!inclusive) return `must be ${small ? 'greater' : 'less'} than ${bound}`;
      return `must be at ${small ? 'least' : 'most'} ${bound}`;
    }
    case 'invalid_format':
      if (issue.format === 'url') return 'must be an absolute http or https URL';
      return /^(Invalid|Too)/.test(issue.message) ? 'has the wrong format' : issue.message;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    default:
      return /^(Invalid|Too|Unrecognized)/.test(issue.message) ? 'is not valid here' : issue.message;
  }
}

/** A union without a discriminator (e.g. `key`: `managed` or `{ file }`): name the forms it takes. */
function unionSentence(issue: z.core.$ZodIssue & { code: 'invalid_union' }, input: unknown): string {
  const literals = issue.errors.flatMap((branch) =>
    branch.filter((i) => i.code === 'invalid_value' && i.path.length === 0).flatMap((i) => (i as { values: unknown[] }).values.map(String)),
  );
  const takesObject = issue.errors.some((branch) => branch.some((i) => i.code === 'invalid_type' && i.path.length === 0 && i.expected === 'object'));
  // the input has the object's shape: that branch's own problems say more than "wrong form"
  if (takesObject && typeof input === 'object' && input !== null) {
    const branch = issue.errors.find((b) => !b.some((i) => i.path.length === 0 && i.code === 'invalid_type'));
    const first = branch?.[0];
    if (first) return sentence(first, input);
  }
  const forms = [...literals, ...(takesObject ? ['a mapping'] : [])].join(' or ');
  if (typeof input === 'string') return `${quoteName(input)} is not ${forms}${suggest(input, literals)}`;
  return `must be ${forms}, got ${kind(input)}`;
}

function oneOf(value: unknown, allowed: readonly string[]): string {
  if (value === undefined) return `required: one of ${allowed.join(', ')}`;
  if (typeof value !== 'string') return `must be one of ${allowed.join(', ')}, got ${kind(value)}`;
  return `${quoteName(value)} is not one of ${allowed.join(', ')}${suggest(value, allowed)}`;
}

const TYPE_NOUNS: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping (field: value)',
  array: 'a list',
  record: 'a mapping (name: value)',
};

function kind(value: unknown): string {
  if (value === null) return 'null (an empty value)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return /^-?\d+(\.\d+)?$/.test(value) ? `the text "${value}" (write it without quotes)` : 'text';
  if (typeof value === 'number') return Number.isInteger(value) ? 'a number' : 'a fractional number';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}

/** Quotes a name-like value; anything else (it may be a secret in the wrong field) is left unquoted. */
function quoteName(value: string): string {
  return /^[\w.:/-]{1,64}$/.test(value) ? `"${value}"` : 'the value';
}

/** "; did you mean `x`?" when one known word is close to the given one. */
export function suggest(word: string, known: readonly string[]): string {
  const best = closest(word, known);
  return best === undefined ? '' : `; did you mean ${best}?`;
}

export function closest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = distance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) && bestDistance < word.length ? best : undefined;
}

/** Damerau–Levenshtein (optimal string alignment): a swapped pair of letters counts as one edit. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  return d[a.length]![b.length]!;
}

function startsWith(path: readonly PropertyKey[], prefix: readonly PropertyKey[]): boolean {
  return prefix.length <= path.length && prefix.every((seg, i) => seg === path[i]);
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const seg of path) value = typeof value === 'object' && value !== null ? (value as Record<PropertyKey, unknown>)[seg] : undefined;
  return value;
}

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  valueType?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  discriminator?: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
}
const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The fields the object schema at `path` accepts (following the input through discriminated unions). */
function objectKeys(schema: z.ZodType, path: readonly PropertyKey[], root: unknown): string[] {
  let node: z.ZodType | undefined = schema;
  let value = root;
  for (let i = 0; node && i <= path.length; ) {
    const def = defOf(node);
    if (def.innerType || def.in) {
      node = def.innerType ?? def.in;
      continue;
    }
    if (def.type === 'union') {
      const options: z.ZodType[] = def.options ?? [];
      const disc = def.discriminator;
      const tag = disc && typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[disc] : undefined;
      node =
        options.find((o) => disc && defOf(o).shape?.[disc] && (defOf(defOf(o).shape![disc]!) as { values?: unknown[] }).values?.includes(tag)) ??
        options.find((o) => defOf(o).type === 'object');
      continue;
    }
    if (i === path.length) return def.type === 'object' ? Object.keys(def.shape ?? {}) : [];
    const seg = path[i++]!;
    value = typeof value === 'object' && value !== null ? (value as Record<PropertyKey, unknown>)[seg] : undefined;
    node = def.type === 'object' ? def.shape?.[String(seg)] : def.type === 'record' ? def.valueType : def.type === 'array' ? def.element : undefined;
  }
  return [];
}
