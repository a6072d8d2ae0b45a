/**
 * docs/configuration.md from the config's JSON Schema (src/config/schema.ts → z.toJSONSchema, the same document
 * `npm run schema` publishes): every field with its dotted path, type, default, description and examples, in one
 * section per part of the file, and one subsection per form of a discriminated union (`store` by `type`, a client's
 * `upstream` by `method`; a field every form has, such as `requestObject`, gets one section). A field without a description stops the generator: give it a `.describe()`.
 */
import { stringify } from 'yaml';
import { configJsonSchema } from '../src/config/schema.js';

/** The part of JSON Schema z.toJSONSchema writes for the config. */
export interface JsonNode {
  type?: string;
  description?: string;
  default?: unknown;
  examples?: unknown[];
  const?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonNode>;
  required?: string[];
  additionalProperties?: boolean | JsonNode;
  propertyNames?: JsonNode;
  items?: JsonNode;
  oneOf?: JsonNode[];
  anyOf?: JsonNode[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  format?: string;
}

interface Row {
  path: string;
  type: string;
  default: string;
  description: string;
}

interface Section {
  title: string;
  /** the path its rows start with */
  path: string;
  intro: string[];
  rows: Row[];
  subsections: Section[];
}

/**
 * The sections, in their order, by the path their rows start with; a top-level key not named here gets one of its
 * own after them. A path that is not in the schema stops the generator.
 */
const SECTIONS: Record<string, string> = {
  server: 'Server',
  store: 'Store',
  keys: 'Keys',
  throttle: 'Throttle',
  tracing: 'Tracing',
  upstreams: 'Upstreams',
  'upstreams.<name>.clients[]': 'Clients',
  'upstreams.<name>.clients[].inbound': 'Inbound: JWT client authentication to authbridge',
  'upstreams.<name>.clients[].upstream': 'Outbound: client authentication to the IdP',
  'upstreams.<name>.clients[].upstream.requestObject': 'Request objects (RFC 9101)',
};
const ORDER = Object.keys(SECTIONS);

/** What a record's key stands for in a path, by the record's path. */
const RECORD_KEYS: Record<string, string> = { upstreams: '<name>' };

const code = (text: string) => (text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``);
/** A value as YAML says it, on one line. */
const yamlValue = (value: unknown): string =>
  typeof value === 'string' && /^[\w./:@${}-]+$/.test(value) ? value : stringify(value, { collectionStyle: 'flow', lineWidth: 0 }).trim();
/** Table cells are one line, and `|` would end them. */
const cell = (text: string) => text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
const alternativesOf = (node: JsonNode) => node.oneOf ?? node.anyOf;
const isObject = (node: JsonNode) => node.type === 'object' && (node.properties !== undefined || typeof node.additionalProperties === 'object');

/** The property every alternative has as a constant: a discriminated union's discriminator. */
function discriminatorOf(alternatives: readonly JsonNode[]): string | undefined {
  const [first, ...rest] = alternatives;
  const candidates = Object.entries(first?.properties ?? {})
    .filter(([, p]) => p.const !== undefined)
    .map(([name]) => name);
  return candidates.find((name) => rest.every((alt) => alt.properties?.[name]?.const !== undefined));
}

function range(node: JsonNode): string {
  const { minimum: min, maximum: max } = node;
  // zod's int() alone says ±MAX_SAFE_INTEGER: no bound worth saying
  const bounded = (n: number | undefined): n is number => n !== undefined && Math.abs(n) < Number.MAX_SAFE_INTEGER;
  if (bounded(min) && bounded(max)) return ` ${min}–${max}`;
  if (bounded(min)) return ` ≥ ${min}`;
  if (bounded(max)) return ` ≤ ${max}`;
  return '';
}

function typeOf(node: JsonNode): string {
  if (node.const !== undefined) return code(yamlValue(node.const));
  if (node.enum) return `one of ${node.enum.map((v) => code(yamlValue(v))).join(', ')}`;
  const alternatives = alternativesOf(node);
  if (alternatives) {
    const discriminator = discriminatorOf(alternatives);
    if (discriminator) return `object, by ${code(discriminator)}: ${alternatives.map((a) => code(yamlValue(a.properties![discriminator]!.const))).join(', ')}`;
    return alternatives
      .map((a) =>
        isObject(a)
          ? `object (${Object.keys(a.properties ?? {})
              .map(code)
              .join(', ')})`
          : typeOf(a),
      )
      .join(' or ');
  }
  switch (node.type) {
    case 'string': {
      let text = node.format === 'uri' ? 'URL' : 'string';
      if (node.maxLength !== undefined) text += ` (≤ ${node.maxLength} chars)`;
      if (node.pattern !== undefined) text += ` matching ${code(node.pattern)}`;
      return text;
    }
    case 'integer':
    case 'number':
      return `${node.type}${range(node)}`;
    case 'array': {
      const count = node.minItems !== undefined || node.maxItems !== undefined ? ` (${node.minItems ?? 0}–${node.maxItems ?? '…'} items)` : '';
      return `list of ${node.items ? typeOf(node.items) : 'any'}${count}`;
    }
    case 'object':
      if (typeof node.additionalProperties === 'object' && !node.properties) return `map of name → ${typeOf(node.additionalProperties)}`;
      return 'object';
    case undefined:
      return 'any';
    default:
      return node.type;
  }
}

/** Parts joined as sentences: each but the last ended with a full stop (descriptions are fragments, and end bare). */
const sentences = (parts: readonly string[]) =>
  parts
    .filter(Boolean)
    .map((p, i, all) => (i === all.length - 1 || /[.!?]$/.test(p) ? p : `${p}.`))
    .join(' ');

/** The description cell: the text, what each described alternative means, a link; then the examples, on a line of their own. */
function describe(node: JsonNode, more: readonly string[] = []): string {
  const parts = [node.description ?? ''];
  for (const alt of alternativesOf(node) ?? []) if (alt.const !== undefined && alt.description) parts.push(`${code(yamlValue(alt.const))}: ${alt.description}`);
  let text = cell(sentences([...parts, ...more]));
  if (node.examples?.length)
    text += `${text ? '<br>' : ''}Example${node.examples.length > 1 ? 's' : ''}: ${node.examples.map((e) => code(yamlValue(e))).join(', ')}`;
  return text;
}

class Writer {
  readonly undescribed: string[] = [];
  readonly sections: Section[] = [];
  private readonly found = new Set<string>();

  section(title: string, path: string, node: JsonNode, parent?: Section): Section {
    const section: Section = { title, path, intro: [], rows: [], subsections: [] };
    if (node.description) section.intro.push(`${node.description[0]!.toUpperCase()}${node.description.slice(1)}.`);
    (parent?.subsections ?? this.sections).push(section);
    this.found.add(path);
    return section;
  }

  /**
   * The rows for `node` at `path` in `section`: its own row (when `named`), then its fields'. A path of SECTIONS gets
   * a section of its own (and a row linking to it where it is a field); a discriminated union, a subsection per form.
   */
  field(node: JsonNode, path: string, section: Section, required: boolean, named = true): void {
    const alternatives = alternativesOf(node);
    const discriminator = alternatives && discriminatorOf(alternatives);
    const own = SECTIONS[path];
    let target = section;
    if (own !== undefined && section.path !== path) {
      if (named) this.row(section, node, path, required, [`See [${own}](#${slug(own)})`]);
      if (this.found.has(path)) return; // a field every form of a union has: its section once, a row in each form
      target = this.section(own, path, node);
    } else if (named && !(section.path === path && isObject(node) && node.properties)) {
      // a section's own object needs no row: its intro says what it is
      this.row(target, node, path, required);
    }
    if (alternatives && discriminator) {
      for (const alt of alternatives) {
        const sub = this.section(`${discriminator}: ${yamlValue(alt.properties![discriminator]!.const)}`, path, alt, target);
        const key = path.split('.').at(-1)!.replace(/\[\]$/, '');
        const examples = (alt.examples ?? []).map((example) => stringify({ [key]: example }).trim());
        if (examples.length > 0) sub.intro.push(['For example:', '', '```yaml', examples.join('\n# or\n'), '```'].join('\n'));
        this.fields(alt, path, sub, new Set([discriminator]));
      }
      return;
    }
    for (const alt of alternatives ?? []) if (isObject(alt) || alt.type === 'array') this.field(alt, path, target, false, false);
    // a list's entries have their row in the list's (`list of …`); their fields have their own
    if (node.type === 'array' && node.items) this.field(node.items, `${path}[]`, target, true, false);
    if (node.type === 'object') {
      if (node.properties) this.fields(node, path, target);
      else if (typeof node.additionalProperties === 'object')
        this.field(node.additionalProperties, `${path}.${RECORD_KEYS[path] ?? '<key>'}`, target, true, false);
    }
  }

  private fields(node: JsonNode, path: string, section: Section, discriminators = new Set<string>()): void {
    for (const [name, property] of Object.entries(node.properties ?? {})) {
      const at = path === '' ? name : `${path}.${name}`;
      if (discriminators.has(name)) {
        this.row(section, property, at, true, ['selects this form']);
        continue;
      }
      if (!property.description && !(alternativesOf(property) ?? []).some((a) => a.description)) this.undescribed.push(at);
      this.field(property, at, section, node.required?.includes(name) ?? false);
    }
  }

  private row(section: Section, node: JsonNode, path: string, required: boolean, more: readonly string[] = []): void {
    const empty = typeof node.default === 'object' && node.default !== null && Object.keys(node.default).length === 0;
    const value = node.default === undefined || empty ? (required ? '(required)' : '—') : code(yamlValue(node.default));
    section.rows.push({ path, type: cell(typeOf(node)), default: value, description: describe(node, more) });
  }

  missing(): string[] {
    return Object.keys(SECTIONS).filter((path) => !this.found.has(path));
  }
}

/** GitHub's heading anchor: lower case, punctuation other than - and _ dropped, spaces as -. */
export const slug = (title: string) =>
  title
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

function render(section: Section, depth: number): string[] {
  const lines = [`${'#'.repeat(depth)} ${section.title}`, ''];
  for (const text of section.intro) lines.push(text, '');
  if (section.rows.length > 0)
    lines.push(
      '| field | type | default | description |',
      '|---|---|---|---|',
      ...section.rows.map((r) => `| ${code(r.path)} | ${r.type} | ${r.default} | ${r.description} |`),
      '',
    );
  for (const sub of section.subsections) lines.push(...render(sub, depth + 1));
  return lines;
}

function contents(sections: readonly Section[], indent = ''): string[] {
  return sections.flatMap((s) => [`${indent}- [${s.title}](#${slug(s.title)})`, ...contents(s.subsections, `${indent}  `)]);
}

export function renderConfigDoc(generated: string): string {
  const schema = configJsonSchema() as JsonNode;
  const writer = new Writer();
  for (const [name, node] of Object.entries(schema.properties ?? {})) {
    const section = writer.section(SECTIONS[name] ?? name, name, node);
    writer.field(node, name, section, schema.required?.includes(name) ?? false);
  }
  const rank = (s: Section) => (ORDER.includes(s.path) ? ORDER.indexOf(s.path) : ORDER.length);
  writer.sections.sort((a, b) => rank(a) - rank(b));
  const problems = [
    ...writer.undescribed.map((path) => `${path}: no description; give it a .describe() in src/config`),
    ...writer.missing().map((path) => `${path}: in SECTIONS (scripts/config-doc.ts) but not in the schema`),
  ];
  if (problems.length > 0) throw new Error(problems.join('\n'));
  const anchors = new Set<string>();
  const all = (sections: readonly Section[]): Section[] => sections.flatMap((s) => [s, ...all(s.subsections)]);
  for (const s of all(writer.sections)) {
    if (anchors.has(slug(s.title))) throw new Error(`two sections are titled "${s.title}": their anchors would collide`);
    anchors.add(slug(s.title));
  }
  return [
    '# Configuration reference',
    '',
    generated,
    '',
    'Every field of the config file (YAML; `authbridge validate` checks one), from the schema in `src/config/`. Paths are',
    'dotted: `<name>` is a key you choose, `[]` an entry of a list. A value may be `${VARIABLE}`, read from the',
    'environment at load (`$${` writes a literal `${`). Editors check the file against the same schema:',
    '[`config/authbridge.schema.json`](../config/authbridge.schema.json). Complete setups to copy:',
    '[`config/examples/`](../config/examples/); every docs page: [README.md](README.md).',
    '',
    '## Contents',
    '',
    ...contents(writer.sections),
    '',
    ...writer.sections.flatMap((s) => render(s, 2)),
  ].join('\n');
}
