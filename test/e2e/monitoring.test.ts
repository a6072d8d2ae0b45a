// The chart's alerts and dashboard: every metric they read is one a running authbridge exposes; the rendered
// rule groups pass `promtool check rules` and the unit tests of test/fixtures/prometheus-rules.test.yaml (one
// per alert). promtool comes from Debian's `prometheus` package (.ci/run installs it): without it the promtool
// tests are skipped, and fail under CI=true (test/support/system-tools.ts).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { startBridge, type Bridge } from '../support/bridge.js';
import { faults, startFaultUpstream, type FaultUpstream } from '../support/fault-upstream.js';
import { CHART, ROOT, helmTemplate } from '../support/helm.js';
import { needs } from '../support/system-tools.js';

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleGroup {
  name: string;
  rules: Rule[];
}

const RULES_TEST = join(ROOT, 'test/fixtures/prometheus-rules.test.yaml');
const DASHBOARD = join(CHART, 'dashboards/authbridge.json');

/** The PrometheusRule's groups as `helm template` renders them with the default thresholds. */
function renderedGroups(args: string[] = []): RuleGroup[] {
  const docs = parseAllDocuments(
    helmTemplate([
      '--set',
      'metrics.prometheusRule.enabled=true',
      '--api-versions',
      'monitoring.coreos.com/v1',
      '--show-only',
      'templates/prometheusrule.yaml',
      ...args,
    ]),
  ).map((d) => d.toJS() as { kind: string; spec: { groups: RuleGroup[] } } | null);
  const rule = docs.find((d) => d?.kind === 'PrometheusRule');
  if (!rule) throw new Error('helm template rendered no PrometheusRule');
  return rule.spec.groups;
}

/** Runs promtool (needs('promtool') skipped the tests if it is not installed). */
function promtool(args: string[]): { code: number; output: string } {
  const run = spawnSync('promtool', args, { encoding: 'utf8', timeout: 60_000 });
  if (run.error) throw new Error(`promtool cannot run: ${run.error.message}`);
  return { code: run.status ?? 1, output: `${run.stdout}${run.stderr}` };
}

/**
 * The metric names a PromQL expression selects: identifiers that are not functions, aggregation or binary
 * keywords, label names (inside {} or by/without/on/ignoring/group_x lists), strings, durations or Grafana
 * variables.
 */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\$\{\w+\}|\$\w+/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const keywords = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);
  const names = [...stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*(?!\s*\()/g)]
    .filter((m) => !/[A-Za-z0-9_:]/.test(stripped[m.index + m[0].length] ?? ''))
    .map((m) => m[0])
    .filter((n) => !keywords.has(n.toLowerCase()));
  return [...new Set(names)];
}

/** Every PromQL expression of the dashboard: panel targets and the label_values() metric of each variable. */
function dashboardExprs(): string[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    panels: { targets?: { expr: string }[] }[];
    templating: { list: { type: string; query: string | { query: string } }[] };
  };
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  for (const v of dashboard.templating.list.filter((v) => v.type === 'query')) {
    const query = typeof v.query === 'string' ? v.query : v.query.query;
    const m = /^label_values\((.*),\s*\w+\)$/.exec(query);
    if (!m) throw new Error(`dashboard variable query not understood: ${query}`);
    exprs.push(m[1]!);
  }
  return exprs;
}

describe('metric names used by the chart', () => {
  let bridge: Bridge;
  let stub: FaultUpstream;
  let exposed: Set<string>;
  /** authbridge's own metrics as declared (# TYPE): name → type */
  const declared = new Map<string, string>();

  beforeAll(async () => {
    stub = await startFaultUpstream(
      faults.answer(200, 'OK', { 'content-type': 'application/json' }, '{"access_token":"at-1","token_type":"Bearer","expires_in":60}'),
    );
    bridge = await startBridge({
      upstreams: {
        idp: {
          issuer: stub.url,
          tokenEndpoint: stub.tokenEndpoint,
          clients: [
            {
              clientId: 'broker',
              clientSecret: 'monitoring-secret-7c1d',
              upstream: { clientId: 'up', method: 'client_secret_jwt', clientSecret: 'u'.repeat(32) },
              // the token cache's metrics: a miss, then a hit
              tokenCache: { enabled: true },
            },
          ],
        },
      },
    });
    const token = (secret: string) =>
      fetch(`${bridge.url}/idp/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'broker', client_secret: secret }),
      });
    expect((await token('monitoring-secret-7c1d')).status).toBe(200);
    expect((await token('monitoring-secret-7c1d')).headers.get('cache-status')).toMatch(/^authbridge; hit/);
    expect((await token('wrong-secret')).status).toBe(401);
    expect((await fetch(`${bridge.url}/idp/jwks.json`)).status).toBe(200);

    // the scrape: every declared metric (a histogram as its _bucket, _sum and _count series) and every sample name
    const text = await bridge.proxy.metrics.registry.metrics();
    exposed = new Set();
    for (const line of text.split('\n')) {
      const type = /^# TYPE (\S+) (\w+)$/.exec(line);
      if (type) {
        const [, name, kind] = type;
        if (name!.startsWith('authbridge_')) declared.set(name!, kind!);
        if (kind === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exposed.add(name! + suffix);
        else exposed.add(name!);
      } else if (line && !line.startsWith('#')) exposed.add(/^[^{ ]+/.exec(line)![0]);
    }
  });
  afterAll(async () => {
    await bridge?.stop();
    await stub?.close();
  });

  it('the scrape declares the metrics docs/metrics.md lists (written from the registry), with samples from the traffic', () => {
    // the single-process proxy's table: the one before the primary's own (server.workers)
    const doc = readFileSync(join(ROOT, 'docs/metrics.md'), 'utf8').split('With `server.workers`')[0]!;
    const documented = [...doc.matchAll(/^\| `(authbridge_\w+)` \| (\w+)/gm)].map(([, name, type]) => [name, type]);
    expect(new Map(documented as [string, string][])).toEqual(declared);
    for (const name of [
      'authbridge_requests_total',
      'authbridge_request_duration_seconds_bucket',
      'authbridge_upstream_duration_seconds_count',
      'authbridge_key_age_seconds',
      'authbridge_token_cache_requests_total',
      'authbridge_token_cache_idp_requests_saved_total',
      'authbridge_token_cache_entries',
    ])
      expect(exposed).toContain(name);
    expect(
      metricNames('sum by (le) (rate(authbridge_request_duration_seconds_bucket{upstream=~"$upstream", le="+Inf"}[$__rate_interval])) / on(job) x'),
    ).toEqual(['authbridge_request_duration_seconds_bucket', 'x']);
  });

  it('every alert expression reads only exposed metrics', () => {
    const used = renderedGroups().flatMap((g) => g.rules.flatMap((r) => metricNames(r.expr)));
    expect(new Set(used)).toEqual(
      new Set([
        'authbridge_requests_total',
        'authbridge_upstream_errors_total',
        'authbridge_client_auth_failures_total',
        'authbridge_store_errors_total',
        'authbridge_key_age_seconds',
        'authbridge_config_reloads_total',
        'authbridge_assertions_unrecorded_total',
      ]),
    );
    expect(used.filter((n) => !exposed.has(n))).toEqual([]);
  });

  it('every dashboard expression reads only exposed metrics, and the dashboard covers each authbridge metric', () => {
    const used = new Set(dashboardExprs().flatMap(metricNames));
    expect([...used].filter((n) => !exposed.has(n))).toEqual([]);
    const series = (name: string, kind: string) => (kind === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => name + s) : [name]);
    const unused = [...declared].filter(([name, kind]) => !series(name, kind).some((n) => used.has(n))).map(([name]) => name);
    expect(declared.size).toBe(16);
    expect(unused).toEqual([]);
  });
});

describe('promtool', needs('promtool'), () => {
  const dir = mkdtempSync(join(tmpdir(), 'authbridge-rules-'));

  it('check rules passes on the rendered rule groups (annotation templates included)', () => {
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, stringify({ groups: renderedGroups(['--set', 'metrics.prometheusRule.runbookUrl=https://runbooks.example/authbridge']) }));
    const res = promtool(['check', 'rules', file]);
    expect(res.code, res.output).toBe(0);
    expect(res.output).toContain('SUCCESS: 7 rules found');
  });

  it('every alert has its own unit test, and test rules passes', () => {
    const groups = renderedGroups();
    const alerts = groups.flatMap((g) => g.rules.map((r) => r.alert)).filter((a): a is string => !!a);
    const tests = parse(readFileSync(RULES_TEST, 'utf8')) as { rule_files: string[]; tests: { name: string; alert_rule_test: { alertname: string }[] }[] };
    expect(tests.tests.map((t) => t.name).sort()).toEqual([...alerts].sort());
    for (const t of tests.tests) expect(new Set(t.alert_rule_test.map((a) => a.alertname))).toEqual(new Set([t.name]));

    // annotations are prose (and $value-dependent): the unit tests compare labels only
    const bare = groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _, ...rule }) => rule) }));
    const rules = join(dir, 'rules-bare.yaml');
    writeFileSync(rules, stringify({ groups: bare }));
    const testFile = join(dir, 'rules.test.yaml');
    writeFileSync(testFile, stringify({ ...tests, rule_files: [rules] }));
    const res = promtool(['test', 'rules', testFile]);
    expect(res.code, res.output).toBe(0);
    expect(res.output).toContain('SUCCESS');
  });

  it('a broken threshold makes test rules fail (the tests bite)', () => {
    const groups = renderedGroups(['--set-json', 'metrics.prometheusRule.alerts.serverErrors.threshold=0.5']);
    const rules = join(dir, 'rules-loose.yaml');
    writeFileSync(rules, stringify({ groups: groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _, ...rule }) => rule) })) }));
    const testFile = join(dir, 'rules-loose.test.yaml');
    writeFileSync(testFile, stringify({ ...(parse(readFileSync(RULES_TEST, 'utf8')) as object), rule_files: [rules] }));
    const res = promtool(['test', 'rules', testFile]);
    expect(res.code).not.toBe(0);
    expect(res.output).toContain('AuthbridgeHighServerErrorRatio');
  });
});
