/**
 * Reads src/ for the places that make an OAuthError, and what each answers: `new OAuthError(status, 'error', …,
 * { code })`, and the calls of helpers that wrap one with the code as a parameter (invalidRequest, invalidClient,
 * and their own wrappers, found the same way: `const name = (…, code …) => helper(…, code …)`; one not exported is
 * a wrapper in its own file only). A status or error
 * that is not a literal is `undefined` (chosen at run time); a code read from an object literal of the same file
 * (`CODES[kind]`) gives a site per value it can take, marked `mapped`: the code around it may have answered some
 * of those values before (so the site says what the code may answer, not what it must).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface ThrowSite {
  /** file:line */
  at: string;
  code: string;
  status: number | undefined;
  error: string | undefined;
  /** one of the values of a map the code is read from (`CODES[kind]`) */
  mapped: boolean;
}

export interface Scan {
  sites: ThrowSite[];
  /** sites whose code is neither a literal, a map of this file, nor a parameter of a wrapper */
  unresolved: string[];
}

interface Call {
  name: string;
  /** offset of the call's name */
  start: number;
  args: string[];
}

interface Wrapper {
  status: number | undefined;
  error: string | undefined;
  /** the parameter that is the code */
  codeIndex: number;
}

const ROOT = new URL('../../src/', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The top-level arguments of the call whose `(` is at `open`: strings, templates and nesting skipped over. */
function argumentsAt(text: string, open: number): string[] {
  const args: string[] = [];
  let depth = 0;
  let from = open + 1;
  for (let i = open; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === "'" || ch === '"' || ch === '`') {
      i = skipString(text, i);
      continue;
    }
    if (ch === '(' || ch === '{' || ch === '[') depth++;
    else if (ch === ')' || ch === '}' || ch === ']') {
      depth--;
      if (depth === 0) {
        args.push(text.slice(from, i).trim());
        return args.filter((a, n) => a !== '' || n < args.length - 1);
      }
    } else if (ch === ',' && depth === 1) {
      args.push(text.slice(from, i).trim());
      from = i + 1;
    }
  }
  return args;
}

/** The offset of the quote that ends the string opening at `i` (a template's `${…}` read through). */
function skipString(text: string, i: number): number {
  const quote = text[i];
  for (let j = i + 1; j < text.length; j++) {
    if (text[j] === '\\') j++;
    else if (text[j] === quote) return j;
    else if (quote === '`' && text[j] === '$' && text[j + 1] === '{') {
      let depth = 0;
      for (j++; j < text.length; j++) {
        if (text[j] === '{') depth++;
        else if (text[j] === '}' && --depth === 0) break;
        else if (text[j] === "'" || text[j] === '"' || text[j] === '`') j = skipString(text, j);
      }
    }
  }
  return text.length;
}

const literalNumber = (arg: string | undefined) => (arg !== undefined && /^\d{3}$/.test(arg) ? Number(arg) : undefined);
const literalString = (arg: string | undefined) => /^'([^']*)'$/.exec(arg ?? '')?.[1];

/** The wrappers: exported ones by name, a file's own by `file#name`. */
class Wrappers {
  private readonly byKey = new Map<string, Wrapper>();

  get(file: string, name: string): Wrapper | undefined {
    return this.byKey.get(`${file}#${name}`) ?? this.byKey.get(name);
  }

  add(file: string, definition: Definition, wrapper: Wrapper): boolean {
    const key = definition.exported ? definition.name : `${file}#${definition.name}`;
    if (this.byKey.has(key)) return false;
    this.byKey.set(key, wrapper);
    return true;
  }

  /** the names a call in `file` may use */
  names(file: string): string[] {
    return [...this.byKey.keys()].filter((k) => !k.includes('#') || k.startsWith(`${file}#`)).map((k) => k.split('#').at(-1)!);
  }
}

interface Definition {
  name: string;
  params: string[];
  exported: boolean;
}

/** What a call answers: OAuthError's first two arguments, or the wrapper's. */
function answerOf(file: string, call: Call, wrappers: Wrappers): Pick<Wrapper, 'status' | 'error'> {
  if (call.name === 'new OAuthError') return { status: literalNumber(call.args[0]), error: literalString(call.args[1]) };
  const { status, error } = wrappers.get(file, call.name)!;
  return { status, error };
}

/** The code expression of a call: OAuthError's `{ code: … }` (or `{ code }`), a wrapper's argument at codeIndex. */
function codeExpression(file: string, call: Call, wrappers: Wrappers): string | undefined {
  if (call.name === 'new OAuthError') {
    const options = call.args[4] ?? '';
    return /\bcode\s*:\s*([^,}\s]+)/.exec(options)?.[1] ?? (/[{,]\s*code\s*[,}]/.test(options) ? 'code' : undefined);
  }
  return call.args[wrappers.get(file, call.name)!.codeIndex];
}

function callsIn(text: string, names: readonly string[]): Call[] {
  const calls: Call[] = [];
  const pattern = new RegExp(`(new OAuthError|\\b(?:${names.join('|') || '$^'}))\\s*\\(`, 'g');
  for (const match of text.matchAll(pattern)) calls.push({ name: match[1]!, start: match.index, args: argumentsAt(text, match.index + match[0].length - 1) });
  return calls;
}

/** `const NAME = (PARAMS) =>` right before `start`: the wrapper's name and parameter names. */
function definitionBefore(text: string, start: number): Definition | undefined {
  const match = /(export\s+)?(?:const|function)\s+(\w+)\s*=?\s*\(([^()]*)\)\s*(?::\s*[\w<>[\]\s|]+)?\s*(?:=>|\{\s*return)\s*$/.exec(
    text.slice(Math.max(0, start - 400), start),
  );
  if (!match) return undefined;
  const params = match[3]!.split(',').map((p) => /^\s*(\w+)/.exec(p)?.[1] ?? '');
  return { name: match[2]!, params, exported: match[1] !== undefined };
}

export function scanThrowSites(root = ROOT): Scan {
  const files = sources(root).map((file) => ({ file: relative(join(root, '..'), file), text: readFileSync(file, 'utf8') }));
  // the wrappers, to a fixed point: a wrapper of a wrapper answers what the inner one does
  const wrappers = new Wrappers();
  for (let changed = true; changed; ) {
    changed = false;
    for (const { file, text } of files)
      for (const call of callsIn(text, wrappers.names(file))) {
        const definition = definitionBefore(text, call.start);
        const code = codeExpression(file, call, wrappers);
        const codeIndex = definition && code !== undefined ? definition.params.indexOf(code) : -1;
        if (codeIndex >= 0 && wrappers.add(file, definition!, { ...answerOf(file, call, wrappers), codeIndex })) changed = true;
      }
  }
  const sites: ThrowSite[] = [];
  const unresolved: string[] = [];
  for (const { file, text } of files)
    for (const call of callsIn(text, wrappers.names(file))) {
      const at = `${file}:${text.slice(0, call.start).split('\n').length}`;
      const definition = definitionBefore(text, call.start);
      const code = codeExpression(file, call, wrappers);
      // a wrapper's own body: its callers are the sites
      if (definition && code !== undefined && definition.params.includes(code) && wrappers.get(file, definition.name)) continue;
      const { status, error } = answerOf(file, call, wrappers);
      const codes = codesOf(code, text);
      if (codes.length === 0) unresolved.push(`${at}: ${call.name}(${call.args.join(', ')})`);
      const mapped = code !== undefined && /\[.*\]$/.test(code);
      for (const value of codes) sites.push({ at, code: value, status, error, mapped });
    }
  return { sites, unresolved };
}

/** A literal code, or the values of `MAP[…]` / `MAP.key` from an object literal in the same file. */
function codesOf(expression: string | undefined, text: string): string[] {
  if (expression === undefined) return [];
  const literal = literalString(expression);
  if (literal !== undefined) return [literal];
  const access = /^(\w+)(?:\.(\w+)|\[.*\])$/.exec(expression);
  if (!access) return [];
  const body = new RegExp(`const ${access[1]}\\b[^=]*=\\s*\\{([^}]*)\\}`).exec(text)?.[1];
  if (body === undefined) return [];
  const entries = [...body.matchAll(/(\w+)\s*:\s*'(ERR_\w+)'/g)];
  return entries.filter((e) => access[2] === undefined || e[1] === access[2]).map((e) => e[2]!);
}
