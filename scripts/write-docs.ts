/**
 * Writes docs/metrics.md, docs/errors.md and docs/configuration.md from the code: the metrics as a fresh registry
 * holds them (name, type, help, labels, buckets, how the workers' values combine), the label values from the
 * constants that produce them, the error codes from ERROR_CODES and INTERNAL_CODES, and every config field from the
 * config schema (config-doc.ts). test/unit/docs.test.ts fails when the files are stale: `npm run docs`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { ENDPOINTS } from '../src/config/endpoints.js';
import { INBOUND_METHODS } from '../src/config/inbound-schema.js';
import { HMAC_ALGS, OUTBOUND_METHODS, SIGNING_ALGS } from '../src/config/outbound-schema.js';
import { ERROR_CODES, INTERNAL_CODES, reasonOf, type AnsweredCode, type ErrorCategory, type InternalCode } from '../src/errors.js';
import { CALLER_ANSWERS } from '../src/http/answers.js';
import { ROUTE_ENDPOINTS } from '../src/http/context.js';
import { FACT_OF } from '../src/http/respond.js';
import { primaryMetrics } from '../src/lifecycle/cluster.js';
import { CERTIFICATE_USES, Metrics, RELOAD_RESULTS, UPSTREAM_5XX } from '../src/metrics.js';
import { KEY_STATES } from '../src/store/types.js';
import { renderConfigDoc } from './config-doc.js';

export const METRICS_DOC = new URL('../docs/metrics.md', import.meta.url);
export const ERRORS_DOC = new URL('../docs/errors.md', import.meta.url);
export const CONFIG_DOC = new URL('../docs/configuration.md', import.meta.url);

const GENERATED = '<!-- written by `npm run docs` (scripts/write-docs.ts) from the code: edit the code, not this file -->';
const CODES = Object.keys(ERROR_CODES) as AnsweredCode[];
const reasons = (category: ErrorCategory) => CODES.filter((code) => ERROR_CODES[code] === category).map(reasonOf);
const code = (text: string | number) => `\`${text}\``;
const list = (items: readonly string[]) => (items.length > 0 ? items.map(code).join(', ') : '—');

/** What each label holds: the values where the code has them as a closed set, and what they are. */
const LABELS: Record<string, { text: string; values?: readonly string[] }> = {
  upstream: { text: 'a configured upstream\'s name; `""` when the request named none of them' },
  endpoint: { text: 'the route that answered', values: [...ENDPOINTS.map((e) => e.name), ...ROUTE_ENDPOINTS] },
  inbound_method: { text: 'how the caller authenticated (`none`: not known)', values: [...INBOUND_METHODS, 'none'] },
  outbound_method: { text: 'how authbridge authenticated to the IdP (`none`: not known)', values: [...OUTBOUND_METHODS, 'none'] },
  status_class: { text: "the class of the answer's status (`2xx`, `4xx`, …)" },
  alg: { text: "the client assertion's alg", values: [...SIGNING_ALGS, ...HMAC_ALGS] },
  reason: {
    text: "why the caller's client authentication was refused: the reason of a `client_auth` error code ([errors.md](errors.md))",
    values: reasons('client_auth'),
  },
  kind: {
    text: 'how the exchange with the IdP failed: the reason of an `upstream` error code ([errors.md](errors.md)), or an answered 5xx',
    values: [...reasons('upstream'), UPSTREAM_5XX],
  },
  op: { text: 'the store operation that failed (`claimJti`, `getKeySet`, …)' },
  kid: { text: "a published key's `kid`" },
  state: { text: "a managed key's state (the age is the time in it)", values: KEY_STATES },
  client: { text: 'a configured client id' },
  use: { text: "`signing`: a signing key's certificate; `tls`: an mTLS client certificate", values: CERTIFICATE_USES },
  result: { text: "the reload's outcome", values: RELOAD_RESULTS },
};

interface MetricDoc {
  name: string;
  type: string;
  help: string;
  labels: readonly string[];
}

/** The registry's metrics as documented: a histogram with its buckets, a gauge with how the workers' values combine. */
function read(registry: Registry): MetricDoc[] {
  const docs: MetricDoc[] = [];
  // the metric objects themselves (prom-client's and metrics-series.ts'), which also hold their label names
  for (const metric of registry.getMetricsAsArray()) {
    const { name, help, type, aggregator } = metric;
    const own = metric as unknown as { labelNames?: readonly string[]; buckets?: readonly number[] };
    let kind = String(type);
    if (own.buckets) kind += ` (buckets ${own.buckets.join(', ')} s)`;
    if (aggregator !== 'sum') kind += ` (workers: ${aggregator})`;
    docs.push({ name, type: kind, help, labels: own.labelNames ?? [] });
  }
  return docs;
}

function table(metrics: readonly MetricDoc[]): string[] {
  return ['| metric | type | labels | help |', '|---|---|---|---|', ...metrics.map((m) => `| ${code(m.name)} | ${m.type} | ${list(m.labels)} | ${m.help} |`)];
}

export async function renderMetricsDoc(): Promise<string> {
  const metrics = read(new Metrics({ defaultMetrics: false }).registry);
  const primaryRegistry = new Registry();
  primaryMetrics(primaryRegistry);
  const primary = read(primaryRegistry);
  const used = [...new Set([...metrics, ...primary].flatMap((m) => m.labels))];
  const undocumented = used.filter((label) => !LABELS[label]);
  if (undocumented.length > 0) throw new Error(`label ${undocumented.join(', ')}: say what it holds in LABELS (scripts/write-docs.ts)`);
  return [
    '# Metrics',
    '',
    GENERATED,
    '',
    "Every metric of authbridge's own registry (`src/metrics.ts`), served at `/metrics` on the metrics listener, next to",
    "prom-client's default process metrics (`process_*`, `nodejs_*`). Label values are configured names and fixed codes only.",
    '',
    ...table(metrics),
    '',
    "With `server.workers` above 1, the primary serves every worker's metrics combined (counters and histograms summed,",
    'gauges as their type says) and its own:',
    '',
    ...table(primary),
    '',
    '## Labels',
    '',
    '| label | what it holds | values |',
    '|---|---|---|',
    ...used.map((label) => `| ${code(label)} | ${LABELS[label]!.text} | ${list(LABELS[label]!.values ?? [])} |`),
    '',
  ].join('\n');
}

export const renderConfigurationDoc = (): string => renderConfigDoc(GENERATED);

export async function renderErrorsDoc(): Promise<string> {
  const metrics = new Metrics({ defaultMetrics: false });
  // the counter each category's reason is a label of (src/http/observe.ts), as the registry names it
  const countedIn: Record<ErrorCategory, { metric: string; label: string } | undefined> = {
    client_auth: { metric: metrics.clientAuthFailures.name, label: 'reason' },
    upstream: { metric: metrics.upstreamErrors.name, label: 'kind' },
    request: undefined,
  };
  for (const counted of Object.values(countedIn))
    if (counted && !metrics.registry.getSingleMetric(counted.metric)) throw new Error(`${counted.metric} is not in the registry`);
  return [
    '# Error codes',
    '',
    GENERATED,
    '',
    'Every code in `ERROR_CODES` (`src/errors.ts`), the stable code of each error authbridge answers with. Its `reason` (the',
    'code without `ERR_`, in lower case) is the value of the metric label that counts it and of the access-log field. The',
    'caller gets the HTTP status and the RFC 6749 §5.2 JSON body `{"error": …, "error_description": …}` with the OAuth',
    '`error` below (`CALLER_ANSWERS`, `src/http/answers.ts`, checked against every place the code is raised); the code',
    'itself stays in the log. What each situation means: [the HTTP interface](http-interface.md#errors).',
    '',
    '| code | reason | category | status | OAuth `error` | counted in | access-log field |',
    '|---|---|---|---|---|---|---|',
    ...CODES.map((c) => {
      const counted = countedIn[ERROR_CODES[c]];
      const metric = counted ? code(`${counted.metric}{${counted.label}="${reasonOf(c)}"}`) : '— (the log line only)';
      const answers = CALLER_ANSWERS[c];
      const status = answers.map((a) => (a.when ? `${a.status} (${a.when})` : String(a.status))).join('<br>');
      const errors = [...new Set(answers.map((a) => a.error))].map(code).join(', ');
      return `| ${code(c)} | ${code(reasonOf(c))} | ${ERROR_CODES[c]} | ${status} | ${errors} | ${metric} | ${code(FACT_OF[ERROR_CODES[c]])} |`;
    }),
    '',
    '## Internal codes',
    '',
    'Every code in `INTERNAL_CODES` (`src/errors.ts`): errors never answered to a caller as such. Start-up, reload, the CLI',
    'and `doctor` print them; on the request path the code named is what a caller gets (any other is answered as',
    '`ERR_INTERNAL`). No metric counts them by code.',
    '',
    '| code | what it means |',
    '|---|---|',
    ...(Object.keys(INTERNAL_CODES) as InternalCode[]).map((c) => `| ${code(c)} | ${INTERNAL_CODES[c].replace(/\bERR_[A-Z_]+/g, code)} |`),
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  mkdirSync(new URL('.', METRICS_DOC), { recursive: true });
  writeFileSync(METRICS_DOC, await renderMetricsDoc());
  writeFileSync(ERRORS_DOC, await renderErrorsDoc());
  writeFileSync(CONFIG_DOC, renderConfigurationDoc());
  console.log(`wrote ${METRICS_DOC.pathname}, ${ERRORS_DOC.pathname} and ${CONFIG_DOC.pathname}`);
}
