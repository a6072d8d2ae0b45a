// The Helm chart with the real helm binary: lint, render and inspect the objects, refused combinations,
// the values schema, and the rendered authbridge.yaml checked by authbridge's own loader (`validate`).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { authbridgeArgv } from '../support/cli.js';
import { CHART, ROOT, helm, helmTemplate } from '../support/helm.js';

/** rendered manifests and configs are inspected loosely; expect() does the checking */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Spec = any;
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Spec;
  data?: Record<string, string>;
}

const CI = ['gateway', 'sidecar-like', 'redis'] as const;
const ciFile = (name: string) => join(CHART, 'ci', `${name}-values.yaml`);

function render(args: string[] = []): K8sObject[] {
  return parseAllDocuments(helmTemplate(args))
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors[0]!.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}
const all = (objs: K8sObject[], kind: string) => objs.filter((o) => o.kind === kind);
function one(objs: K8sObject[], kind: string, name = 't-authbridge'): K8sObject {
  const found = objs.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${objs.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}
const container = (objs: K8sObject[]) => one(objs, 'Deployment').spec.template.spec.containers[0];
const renderedConfig = (objs: K8sObject[]) => parse(all(objs, 'ConfigMap')[0]!.data!['authbridge.yaml']!) as Spec;
const valuesUpstreams = (file: string) => Object.keys((parse(readFileSync(file, 'utf8')) as Spec).config.upstreams).filter((k) => k !== 'example');

describe('helm lint --strict', () => {
  it.each(['default', ...CI])('%s values', (name) => {
    const res = helm(['lint', '--strict', CHART, ...(name === 'default' ? [] : ['-f', ciFile(name)])]);
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
  });
});

describe('helm template: default values', () => {
  const objs = render();

  it('renders a hardened Deployment with probes, checksums and the derived grace period', () => {
    const pod = one(objs, 'Deployment').spec.template;
    expect(one(objs, 'Deployment').spec.replicas).toBe(1);
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    const c = container(objs);
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.ports).toEqual([
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'metrics', containerPort: 9464, protocol: 'TCP' },
    ]);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(pod.metadata.annotations['checksum/config']).toMatch(/^[0-9a-f]{64}$/);
    expect(pod.metadata.annotations['checksum/secret']).toMatch(/^[0-9a-f]{64}$/);
    expect(c.envFrom).toEqual([{ secretRef: { name: 't-authbridge' } }]);
    expect(one(objs, 'Secret').kind).toBe('Secret');
    // shutdownDelayMs 5000 + shutdownGraceMs 10000 → 15 s, + 5
    expect(pod.spec.terminationGracePeriodSeconds).toBe(20);
  });

  it('mounts the ConfigMap, whose authbridge.yaml holds the values upstreams', () => {
    const c = container(objs);
    expect(c.args).toEqual(['start', '--config', '/etc/authbridge/authbridge.yaml']);
    expect(c.volumeMounts).toContainEqual({ name: 'config', mountPath: '/etc/authbridge', readOnly: true });
    expect(one(objs, 'Deployment').spec.template.spec.volumes).toContainEqual({ name: 'config', configMap: { name: 't-authbridge' } });
    const config = renderedConfig(objs);
    expect(Object.keys(config.upstreams)).toEqual(['example']);
    expect(config.store).toBeUndefined(); // authbridge's default: memory
  });

  it('serves /metrics on its own port, on the pod IP, so that Prometheus can scrape it and the http port does not expose it', () => {
    expect(renderedConfig(objs).server).toMatchObject({ port: 8080, metricsPort: 9464, metricsHost: '0.0.0.0' });
  });

  it('has the http and metrics Service ports and no optional objects', () => {
    expect(one(objs, 'Service').spec.ports).toEqual([
      { name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' },
      { name: 'metrics', port: 9464, targetPort: 'metrics', protocol: 'TCP' },
    ]);
    for (const kind of ['PodDisruptionBudget', 'HorizontalPodAutoscaler', 'NetworkPolicy', 'ServiceMonitor', 'PrometheusRule'])
      expect(all(objs, kind)).toEqual([]);
    expect(all(objs, 'ConfigMap').map((o) => o.metadata.name)).toEqual(['t-authbridge']); // no dashboard
    expect(objs.filter((o) => o.metadata.name.endsWith('-redis'))).toEqual([]);
  });
});

describe('helm template: gateway values', () => {
  const objs = render(['-f', ciFile('gateway')]);

  it('uses existingSecret and the keys Secret, and renders no chart-managed Secret', () => {
    const c = container(objs);
    expect(c.envFrom).toEqual([{ secretRef: { name: 'authbridge-env' } }]);
    expect(all(objs, 'Secret')).toEqual([]);
    expect(c.volumeMounts).toContainEqual({ name: 'keys', mountPath: '/keys', readOnly: true });
    expect(one(objs, 'Deployment').spec.template.spec.volumes).toContainEqual({ name: 'keys', secret: { secretName: 'authbridge-keys', defaultMode: 0o400 } });
    expect(one(objs, 'Deployment').spec.template.spec.terminationGracePeriodSeconds).toBe(30);
  });

  it('exposes the separate metrics port on the container, the Service and the ServiceMonitor', () => {
    expect(container(objs).ports).toContainEqual({ name: 'metrics', containerPort: 9090, protocol: 'TCP' });
    expect(one(objs, 'Service').spec.ports.map((p: Spec) => `${p.name}:${p.port}`)).toEqual(['http:8080', 'metrics:9090']);
    expect(one(objs, 'ServiceMonitor').spec.endpoints).toMatchObject([{ port: 'metrics', path: '/metrics' }]);
  });

  it('renders the alerts (with the values severity and runbook links) and the dashboard for the Grafana sidecar', () => {
    const rules: Spec[] = one(objs, 'PrometheusRule').spec.groups[0].rules;
    expect(rules).toHaveLength(7);
    expect(rules.find((r) => r.alert === 'AuthbridgeStoreErrors').labels).toEqual({ severity: 'page', team: 'identity' });
    for (const r of rules) expect(r.annotations.runbook_url).toBe(`https://runbooks.example.com/authbridge#${r.alert.toLowerCase()}`);
    expect(one(objs, 'ConfigMap', 't-authbridge-dashboard').metadata).toMatchObject({ namespace: 'monitoring', labels: { grafana_dashboard: '1' } });
  });

  it('renders the PDB (3 replicas), the NetworkPolicy, no HPA, and exactly the values upstreams', () => {
    expect(one(objs, 'Deployment').spec.replicas).toBe(3);
    expect(one(objs, 'PodDisruptionBudget').spec).toMatchObject({ maxUnavailable: 1 });
    expect(all(objs, 'HorizontalPodAutoscaler')).toEqual([]);
    const np = one(objs, 'NetworkPolicy').spec;
    expect(np.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(np.ingress.map((r: Spec) => r.ports[0].port)).toEqual(['http', 'metrics']);
    expect(np.egress.flatMap((r: Spec) => r.ports.map((p: Spec) => p.port))).toEqual([53, 53, 6379, 443, 4318]);
    expect(Object.keys(renderedConfig(objs).upstreams).sort()).toEqual(valuesUpstreams(ciFile('gateway')).sort());
  });
});

describe('helm template: bundled Redis, autoscaling, toggles', () => {
  it('points config.store at the bundled Redis, autoscales without spec.replicas', () => {
    const objs = render(['-f', ciFile('redis')]);
    const redis = one(objs, 'Deployment', 't-authbridge-redis').spec.template.spec;
    expect(redis.containers[0].image).toBe('redis:7');
    expect(redis.containers[0].securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 999,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(one(objs, 'Service', 't-authbridge-redis').spec.ports[0].port).toBe(6379);
    expect(renderedConfig(objs).store).toEqual({ type: 'redis', redis: { url: 'redis://t-authbridge-redis:6379/0' } });
    expect(one(objs, 'NetworkPolicy', 't-authbridge-redis').spec.ingress[0].from[0].podSelector.matchLabels).toMatchObject({
      'app.kubernetes.io/name': 'authbridge',
    });
    expect(one(objs, 'HorizontalPodAutoscaler').spec).toMatchObject({
      minReplicas: 2,
      maxReplicas: 5,
      scaleTargetRef: { kind: 'Deployment', name: 't-authbridge' },
    });
    expect(one(objs, 'Deployment').spec).not.toHaveProperty('replicas');
    expect(all(objs, 'PodDisruptionBudget')).toHaveLength(1);
  });

  it('renders workers into config.server.workers (an explicit config.server.workers wins); a change rolls the pods', () => {
    expect(renderedConfig(render([])).server.workers).toBe(1);
    expect(renderedConfig(render(['-f', ciFile('redis')])).server.workers).toBe(2);
    expect(renderedConfig(render(['-f', ciFile('redis'), '--set-string', 'workers=auto'])).server.workers).toBe('auto');
    expect(renderedConfig(render(['-f', ciFile('redis'), '--set', 'config.server.workers=3'])).server.workers).toBe(3);
    const restartChecksum = (args: string[]) =>
      one(render(['-f', ciFile('redis'), '--set', 'rollOnConfigChange=false', ...args]), 'Deployment', 't-authbridge').spec.template.metadata.annotations[
        'checksum/config-restart'
      ];
    expect(restartChecksum(['--set', 'workers=3'])).not.toBe(restartChecksum([]));
  });

  it('keeps an explicit config.store even with redis.enabled', () => {
    const objs = render(['-f', ciFile('gateway'), '--set', 'redis.enabled=true']);
    expect(renderedConfig(objs).store.redis.url).toBe('${REDIS_URL}');
    expect(all(objs, 'Deployment')).toHaveLength(2);
  });

  it('rollOnConfigChange=false keeps only the restart-relevant config checksum; the ServiceMonitor follows the cluster capabilities', () => {
    const annotations = one(render(['-f', ciFile('sidecar-like')]), 'Deployment', 'broker-authbridge').spec.template.metadata.annotations;
    expect(annotations).not.toHaveProperty('checksum/config');
    expect(annotations['checksum/config-restart']).toMatch(/^[0-9a-f]{64}$/);
    expect(annotations['checksum/secret']).toMatch(/^[0-9a-f]{64}$/);
    const sm = one(render(['--set', 'metrics.serviceMonitor.enabled=true', '--api-versions', 'monitoring.coreos.com/v1']), 'ServiceMonitor');
    expect(sm.spec.endpoints[0]).toMatchObject({ port: 'metrics', path: '/metrics' });
  });

  it('a loopback metricsHost (authbridge alone would choose it) gets no metrics port on the container or the Service', () => {
    const objs = render(['--set', 'config.server.metricsHost=127.0.0.1']);
    expect(container(objs).ports.map((p: Spec) => p.name)).toEqual(['http']);
    expect(one(objs, 'Service').spec.ports.map((p: Spec) => p.name)).toEqual(['http']);
  });

  it('a change of a listener setting rolls the pods even with rollOnConfigChange=false (authbridge cannot hot-reload it)', () => {
    const restartChecksum = (args: string[]) =>
      one(render(['-f', ciFile('sidecar-like'), ...args]), 'Deployment', 'broker-authbridge').spec.template.metadata.annotations['checksum/config-restart'];
    const base = restartChecksum([]);
    for (const setting of ['metricsHost=127.0.0.1', 'metricsPort=9100', 'headersTimeoutMs=2000', 'maxConnections=10'])
      expect(restartChecksum(['--set', `config.server.${setting}`]), setting).not.toBe(base);
    expect(restartChecksum(['--set', 'config.server.shutdownGraceMs=6000'])).toBe(base); // reloadable: no roll
  });

  it('a larger replicaCount is allowed with the memory store only when explicitly accepted', () => {
    const objs = render(['--set', 'replicaCount=2', '--set', 'allowMemoryStoreWithReplicas=true']);
    expect(one(objs, 'Deployment').spec.replicas).toBe(2);
    expect(all(objs, 'PodDisruptionBudget')).toHaveLength(1);
  });
});

describe('helm template: alerts and dashboard', () => {
  const RULES = ['--set', 'metrics.prometheusRule.enabled=true', '--api-versions', 'monitoring.coreos.com/v1'];

  it('renders the PrometheusRule when enabled: every alert with for, severity, summary, description and a runbook hint', () => {
    const objs = render([
      ...RULES,
      '--set',
      'metrics.prometheusRule.labels.release=kube-prometheus',
      '--set',
      'metrics.prometheusRule.additionalAlertLabels.team=identity',
    ]);
    const rule = one(objs, 'PrometheusRule');
    expect(rule.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(rule.metadata).toMatchObject({ namespace: 'ns', labels: { release: 'kube-prometheus', 'app.kubernetes.io/name': 'authbridge' } });
    const rules: Spec[] = rule.spec.groups.flatMap((g: Spec) => g.rules);
    expect(rules.map((r) => r.alert)).toEqual([
      'AuthbridgeHighServerErrorRatio',
      'AuthbridgeHighUpstreamErrorRatio',
      'AuthbridgeClientAuthFailureSpike',
      'AuthbridgeStoreErrors',
      'AuthbridgeSigningKeyNotRotated',
      'AuthbridgeConfigReloadFailed',
      'AuthbridgeAssertionsUnrecorded',
    ]);
    for (const r of rules) {
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      expect(r.labels, r.alert).toEqual({ severity: expect.stringMatching(/^(critical|warning)$/), team: 'identity' });
      expect(Object.keys(r.annotations).sort(), r.alert).toEqual(['description', 'runbook', 'summary']);
      expect(r.expr, r.alert).toContain('namespace="ns", job="t-authbridge"');
    }
    expect(rules.find((r) => r.alert === 'AuthbridgeSigningKeyNotRotated').expr).toMatch(/state="active"\}\)\s+> 2764800$/);
  });

  it('takes thresholds, for, severity, a selector and a runbook URL from values; a disabled alert is left out', () => {
    const rules: Spec[] = one(
      render([
        ...RULES,
        '--set',
        'metrics.prometheusRule.alerts.keyAge.threshold=8640000',
        '--set',
        'metrics.prometheusRule.alerts.storeErrors.severity=page',
        '--set',
        'metrics.prometheusRule.alerts.storeErrors.for=2m',
        '--set',
        'metrics.prometheusRule.alerts.assertionsUnrecorded.enabled=false',
        '--set',
        'metrics.prometheusRule.selector=cluster="eu"',
        '--set',
        'metrics.prometheusRule.runbookUrl=https://runbooks.example/authbridge',
      ]),
      'PrometheusRule',
    ).spec.groups[0].rules;
    const byName = (name: string) => rules.find((r) => r.alert === name);
    expect(byName('AuthbridgeSigningKeyNotRotated').expr).toContain('> 8640000');
    expect(byName('AuthbridgeStoreErrors')).toMatchObject({ for: '2m', labels: { severity: 'page' } });
    expect(byName('AuthbridgeAssertionsUnrecorded')).toBeUndefined();
    expect(byName('AuthbridgeStoreErrors').expr).toContain('authbridge_store_errors_total{cluster="eu"}');
    expect(byName('AuthbridgeStoreErrors').annotations.runbook_url).toBe('https://runbooks.example/authbridge#authbridgestoreerrors');
  });

  it('refuses the PrometheusRule when the cluster lacks the CRD, unless told to skip the check', () => {
    const res = helm(['template', 't', CHART, '--set', 'metrics.prometheusRule.enabled=true']);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('metrics.prometheusRule.enabled: the cluster does not serve monitoring.coreos.com/v1');
    expect(
      all(render(['--set', 'metrics.prometheusRule.enabled=true', '--set', 'metrics.prometheusRule.skipCapabilitiesCheck=true']), 'PrometheusRule'),
    ).toHaveLength(1);
  });

  it('renders the dashboard ConfigMap with the sidecar label when enabled, holding dashboards/authbridge.json as it is', () => {
    const objs = render([
      '--set',
      'metrics.dashboard.enabled=true',
      '--set',
      'metrics.dashboard.namespace=monitoring',
      '--set',
      'metrics.dashboard.annotations.grafana_folder=Identity',
    ]);
    const cm = one(objs, 'ConfigMap', 't-authbridge-dashboard');
    expect(cm.metadata).toMatchObject({ namespace: 'monitoring', labels: { grafana_dashboard: '1' }, annotations: { grafana_folder: 'Identity' } });
    const json = cm.data!['authbridge.json']!;
    expect(JSON.parse(json)).toEqual(JSON.parse(readFileSync(join(CHART, 'dashboards/authbridge.json'), 'utf8')));
    expect(JSON.parse(json)).toMatchObject({ uid: 'authbridge', title: 'authbridge' });
    expect(renderedConfig(objs).upstreams).toHaveProperty('example'); // the app's ConfigMap is still the first
    const relabelled = one(
      render([
        '--set',
        'metrics.dashboard.enabled=true',
        '--set',
        'metrics.dashboard.labels.grafana_dashboard=null',
        '--set',
        'metrics.dashboard.labels.dashboards=authbridge',
      ]),
      'ConfigMap',
      't-authbridge-dashboard',
    );
    expect(relabelled.metadata.labels).toMatchObject({ dashboards: 'authbridge' });
    expect(relabelled.metadata.labels).not.toHaveProperty('grafana_dashboard');
  });
});

describe('release notes', () => {
  const notes = (args: string[]) => {
    const res = helm(['install', 't', CHART, '--namespace', 'ns', '--dry-run=client', ...args]);
    expect(res.code, res.stderr).toBe(0);
    return res.stdout.slice(res.stdout.indexOf('NOTES:'));
  };

  it('list the token and JWKS URL of every upstream, and warn about what looks wrong', () => {
    const gateway = notes(['-f', ciFile('gateway')]);
    for (const u of ['okta', 'partner']) {
      expect(gateway).toContain(`- ${u}: http://t-authbridge.ns.svc.cluster.local:8080/${u}/token`);
      expect(gateway).toContain(`- ${u}: https://authbridge.example.com/${u}/jwks.json`);
    }
    expect(gateway).not.toContain('WARNING');
    const risky = notes(['--set', 'replicaCount=2', '--set', 'allowMemoryStoreWithReplicas=true']);
    expect(risky).toContain('WARNING: replicaCount 2 with store.type memory');
    expect(risky).toContain('placeholder upstream "example"');
    expect(notes(['-f', ciFile('sidecar-like'), '--set', 'secrets.BROKER_SECRET=null'])).toContain('WARNING: the config references BROKER_SECRET');
  });
});

describe('helm template: workloadIdentity (method jwt_bearer_assertion)', () => {
  it('is off by default: no projected token', () => {
    const objs = render();
    expect(JSON.stringify(one(objs, 'Deployment').spec.template.spec.volumes)).not.toContain('serviceAccountToken');
  });

  it('mounts a projected ServiceAccount token with the audience, read-only, at the directory of path; no other token', () => {
    const objs = render([
      '--set',
      'workloadIdentity.enabled=true',
      '--set',
      'workloadIdentity.audience=api://AzureADTokenExchange',
      '--set',
      'workloadIdentity.expirationSeconds=7200',
    ]);
    const pod = one(objs, 'Deployment').spec.template.spec;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.volumes).toContainEqual({
      name: 'workload-identity-token',
      projected: { sources: [{ serviceAccountToken: { audience: 'api://AzureADTokenExchange', expirationSeconds: 7200, path: 'idp-token' } }] },
    });
    expect(container(objs).volumeMounts).toContainEqual({ name: 'workload-identity-token', mountPath: '/var/run/secrets/tokens', readOnly: true });
  });

  it('takes another path', () => {
    const objs = render(['--set', 'workloadIdentity.enabled=true', '--set', 'workloadIdentity.path=/var/run/secrets/azure/tokens/azure-identity-token']);
    expect(container(objs).volumeMounts).toContainEqual({ name: 'workload-identity-token', mountPath: '/var/run/secrets/azure/tokens', readOnly: true });
    expect(
      one(objs, 'Deployment').spec.template.spec.volumes.find((v: Spec) => v.name === 'workload-identity-token').projected.sources[0].serviceAccountToken.path,
    ).toBe('azure-identity-token');
  });
});

describe('helm template: tracing (OpenTelemetry)', () => {
  const env = (objs: K8sObject[]) => Object.fromEntries((container(objs).env as Spec[]).map((e) => [e.name, e.value ?? e.valueFrom]));

  it('is off by default: no tracing block in the config, no OTEL_ variable, no collector egress', () => {
    const objs = render(['--set', 'networkPolicy.enabled=true']);
    expect(renderedConfig(objs)).not.toHaveProperty('tracing');
    expect(Object.keys(env(objs)).filter((n) => n.startsWith('OTEL_'))).toEqual([]);
    expect(JSON.stringify(one(objs, 'NetworkPolicy').spec.egress)).not.toContain('4318');
  });

  it('renders config.tracing.enabled and the standard variables, the headers from a Secret, the pod in the resource', () => {
    const objs = render(['-f', ciFile('gateway')]);
    expect(renderedConfig(objs).tracing).toEqual({ enabled: true });
    expect(env(objs)).toMatchObject({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector.observability:4318',
      OTEL_SERVICE_NAME: 'authbridge-gateway',
      OTEL_EXPORTER_OTLP_HEADERS: { secretKeyRef: { name: 'otlp-headers', key: 'otlp-headers' } },
      OTEL_K8S_POD_NAME: { fieldRef: { fieldPath: 'metadata.name' } },
      OTEL_K8S_NAMESPACE: { fieldRef: { fieldPath: 'metadata.namespace' } },
      OTEL_RESOURCE_ATTRIBUTES: 'k8s.pod.name=$(OTEL_K8S_POD_NAME),k8s.namespace.name=$(OTEL_K8S_NAMESPACE),deployment.environment.name=prod',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
    });
    // the pod's variables are defined before the one that refers to them (Kubernetes expands $(VAR) in order)
    const names = (container(objs).env as Spec[]).map((e) => e.name);
    expect(names.indexOf('OTEL_K8S_POD_NAME')).toBeLessThan(names.indexOf('OTEL_RESOURCE_ATTRIBUTES'));
    expect(one(objs, 'NetworkPolicy').spec.egress).toContainEqual({
      ports: [{ port: 4318, protocol: 'TCP' }],
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'observability' } } }],
    });
    // no header value anywhere in the rendered objects: it stays in the Secret
    expect(JSON.stringify(objs)).not.toContain('x-api-key');
  });

  it('only the variables given: an empty endpoint leaves the OTLP default (a collector in the pod)', () => {
    const objs = render(['--set', 'tracing.enabled=true']);
    expect(Object.keys(env(objs)).filter((n) => n.startsWith('OTEL_'))).toEqual(['OTEL_K8S_POD_NAME', 'OTEL_K8S_NAMESPACE', 'OTEL_RESOURCE_ATTRIBUTES']);
    expect(env(objs).OTEL_RESOURCE_ATTRIBUTES).toBe('k8s.pod.name=$(OTEL_K8S_POD_NAME),k8s.namespace.name=$(OTEL_K8S_NAMESPACE)');
  });

  it("a tracing block of the config's own wins over tracing.enabled", () => {
    const objs = render(['--set', 'tracing.enabled=true', '--set', 'config.tracing.enabled=false']);
    expect(renderedConfig(objs).tracing).toEqual({ enabled: false });
  });

  it('a change of tracing rolls the pods with rollOnConfigChange=false (authbridge cannot hot-reload it)', () => {
    const restart = (args: string[]) =>
      one(render(['--set', 'rollOnConfigChange=false', ...args]), 'Deployment').spec.template.metadata.annotations['checksum/config-restart'];
    expect(restart(['--set', 'tracing.enabled=true'])).not.toBe(restart([]));
  });
});

describe('refused values', () => {
  it.each([
    [['--set', 'replicaCount=2'], 'replicaCount 2 with the memory store'],
    [['--set', 'autoscaling.enabled=true'], 'autoscaling.enabled with the memory store'],
    [['--set', 'config.server.host=127.0.0.1'], 'is loopback-only'],
    [['--set', 'terminationGracePeriodSeconds=5'], 'terminationGracePeriodSeconds 5 is shorter than the drain'],
    [['--set', 'metrics.serviceMonitor.enabled=true'], 'does not serve monitoring.coreos.com/v1'],
    [
      [
        '--set',
        'metrics.serviceMonitor.enabled=true',
        '--set',
        'metrics.serviceMonitor.skipCapabilitiesCheck=true',
        '--set',
        'config.server.metricsHost=127.0.0.1',
      ],
      'metricsHost 127.0.0.1 is loopback-only, and Prometheus scrapes the pod IP',
    ],
    [['--set', 'config.server.metricsPort=8080'], 'config.server.metricsPort must differ from config.server.port'],
    [['--set', 'workers=2'], 'workers 2 with the memory store: the memory store lives in one process'],
    [['--set-string', 'config.server.workers=auto'], 'workers auto with the memory store'],
  ])('fail: %j', (args, message) => {
    const res = helm(['template', 't', CHART, ...args]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain(message);
  });

  it.each([
    [['--set-string', 'replicaCount=two'], '/replicaCount'],
    [['--set', 'logLevel=loud'], '/logLevel'],
    [['--set', 'workers=0'], '/workers'],
    [['--set', 'workers=65'], '/workers'],
    [['--set-string', 'workers=many'], '/workers'],
    [['--set', 'config.upstreams.example=null'], '/config/upstreams'],
    [['--set', 'service.type=Ingress'], '/service/type'],
    [['--set', 'config.server.metricsPort=0'], '/config/server/metricsPort'], // an ephemeral port cannot be scraped
    [['--set', 'workloadIdentity.expirationSeconds=60'], '/workloadIdentity/expirationSeconds'], // Kubernetes' minimum is 600
    [['--set', 'workloadIdentity.path=/idp-token'], '/workloadIdentity/path'], // the mount is its directory: not /
    [['--set', 'tracing.endpoint=otel-collector:4318'], '/tracing/endpoint'], // a URL: http(s)://host[:port]
    [['--set', 'tracing.endpoint=https://user:pw@otel.example.com'], '/tracing/endpoint'], // credentials go in headersSecret
    [['--set', 'tracing.sampler=sometimes'], '/tracing/sampler'],
  ])('values.schema.json rejects %j', (args, path) => {
    const res = helm(['template', 't', CHART, ...args]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain("values don't meet the specifications of the schema");
    expect(res.stderr).toContain(path);
  });
});

describe('the rendered authbridge.yaml passes `authbridge validate`', () => {
  const tsx = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [...authbridgeArgv(), ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });

  /** Dummy values for the ${VAR} references (the right shape for the few that have one). */
  function dummyEnv(text: string): Record<string, string> {
    const names = [...text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!);
    const value = (name: string) =>
      name === 'AUTHBRIDGE_KEK'
        ? randomBytes(32).toString('base64')
        : name.startsWith('REDIS_URL')
          ? 'redis://127.0.0.1:6379/0'
          : randomBytes(48).toString('base64url');
    return Object.fromEntries(names.map((n) => [n, value(n)]));
  }

  /** Key files under keys.mountPath are generated in a temp dir (`authbridge keys generate`) and the paths rewritten. */
  function withKeyFiles(config: Spec, dir: string): string[] {
    const generated: string[] = [];
    for (const upstream of Object.values(config.upstreams) as Spec[]) {
      for (const client of upstream.clients) {
        const key = client.upstream.key;
        if (!key || typeof key !== 'object') continue;
        const files: string[] = key.file ? [key.file] : key.files;
        const local = files.map((file) => join(dir, basename(file)));
        for (const out of local.filter((f) => !generated.includes(f))) {
          const res = tsx(['keys', 'generate', '--alg', client.upstream.alg ?? 'ES256', '--out', out]);
          expect(res.status, res.stderr).toBe(0);
          generated.push(out);
        }
        if (key.file) key.file = local[0];
        else key.files = local;
      }
    }
    return generated;
  }

  it.each(['default', ...CI])('%s values', (name) => {
    const config = renderedConfig(render(name === 'default' ? [] : ['-f', ciFile(name)]));
    const dir = mkdtempSync(join(tmpdir(), `authbridge-helm-${name}-`));
    const keys = withKeyFiles(config, dir);
    if (name === 'gateway' || name === 'sidecar-like') expect(keys).toHaveLength(1);
    const file = join(dir, 'authbridge.yaml');
    writeFileSync(file, stringify(config));
    const res = tsx(['validate', '--config', file], { ...dummyEnv(readFileSync(file, 'utf8')), LOG_LEVEL: 'silent' });
    expect(res.status, `${res.stdout}\n${res.stderr}`).toBe(0);
    expect(res.stdout).toContain(`${file}: OK (${Object.keys(config.upstreams).length} upstream(s)`);
  });
});

it('every ci/*-values.yaml scenario is covered here', () => {
  expect(readdirSync(join(CHART, 'ci')).sort()).toEqual(CI.map((n) => `${n}-values.yaml`).sort());
});
