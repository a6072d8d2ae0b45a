{{/*
Expand the name of the chart.
*/}}
{{- define "authbridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
Truncated at 63 chars because some Kubernetes name fields are limited to that (DNS-1123).
If the release name contains the chart name it is used as the full name.
*/}}
{{- define "authbridge.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version as used by the helm.sh/chart label.
*/}}
{{- define "authbridge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "authbridge.labels" -}}
helm.sh/chart: {{ include "authbridge.chart" . }}
{{ include "authbridge.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels (immutable on a Deployment: never add values-dependent labels here).
*/}}
{{- define "authbridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "authbridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Name of the Secret exposed to the container as environment variables:
existingSecret when set, otherwise the chart-managed one.
*/}}
{{- define "authbridge.secretName" -}}
{{- if .Values.existingSecret }}
{{- tpl .Values.existingSecret $ }}
{{- else }}
{{- include "authbridge.fullname" . }}
{{- end }}
{{- end }}

{{/*
Container image reference: repository@digest when a digest is set, otherwise repository:tag
(tag defaults to the chart appVersion).
*/}}
{{- define "authbridge.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}
{{- end }}

{{/*
Port authbridge listens on inside the pod: config.server.port, default 8080.
*/}}
{{- define "authbridge.containerPort" -}}
{{- $server := (.Values.config | default dict).server | default dict }}
{{- $server.port | default 8080 | int }}
{{- end }}

{{/*
Public base URL (config.server.publicUrl) without a trailing slash.
*/}}
{{- define "authbridge.publicUrl" -}}
{{- $server := (.Values.config | default dict).server | default dict }}
{{- $server.publicUrl | default "" | trimSuffix "/" }}
{{- end }}

{{/*
Name of the bundled Redis objects.
*/}}
{{- define "authbridge.redisName" -}}
{{- printf "%s-redis" (include "authbridge.fullname" . | trunc 57 | trimSuffix "-") }}
{{- end }}

{{/*
Selector labels of the bundled Redis.
*/}}
{{- define "authbridge.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "authbridge.name" . }}-redis
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The configuration authbridge runs with, as YAML: values.config, plus (redis.enabled and no
config.store) a store pointing at the bundled Redis. Everything else reads this, never .Values.config
directly, so that what the checks see is what the ConfigMap holds.
*/}}
{{- define "authbridge.config" -}}
{{- $config := deepCopy (required "config (the content of authbridge.yaml) must be set" .Values.config) }}
{{- if and .Values.redis.enabled (not $config.store) }}
{{- $url := printf "redis://%s:6379/0" (include "authbridge.redisName" .) }}
{{- $_ := set $config "store" (dict "type" "redis" "redis" (dict "url" $url)) }}
{{- end }}
{{- $server := $config.server | default dict }}
{{- if not (hasKey $server "workers") }}
{{- $_ := set $server "workers" (.Values.workers | default 1) }}
{{- $_ := set $config "server" $server }}
{{- end }}
{{- /* tracing.enabled: the config's own tracing block wins, as authbridge's config wins over the OTEL_* variables */}}
{{- if and .Values.tracing.enabled (not (hasKey $config "tracing")) }}
{{- $_ := set $config "tracing" (dict "enabled" true) }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/*
Effective store type: memory unless the config says otherwise (authbridge's default).
*/}}
{{- define "authbridge.storeType" -}}
{{- $config := fromYaml (include "authbridge.config" .) }}
{{- (($config.store | default dict).type | default "memory") }}
{{- end }}

{{/*
Whether an address is loopback-only (unreachable from outside the pod).
*/}}
{{- define "authbridge.isLoopback" -}}
{{- if has (toString .) (list "127.0.0.1" "localhost" "::1") }}true{{ end }}
{{- end }}

{{/*
The metrics listener's port (config.server.metricsPort; authbridge's default 9464) when it is reachable from
outside the pod, else "": a loopback config.server.metricsHost (authbridge's default 127.0.0.1) gets no
container or Service port.
*/}}
{{- define "authbridge.metricsPort" -}}
{{- $server := (.Values.config | default dict).server | default dict }}
{{- if not (include "authbridge.isLoopback" ($server.metricsHost | default "127.0.0.1")) }}{{ $server.metricsPort | default 9464 | int }}{{ end }}
{{- end }}

{{/*
Whether more than one authbridge pod can run at once.
*/}}
{{- define "authbridge.multiReplica" -}}
{{- if or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) }}true{{ end }}
{{- end }}

{{/*
Seconds of the SIGTERM drain: preStop sleep + shutdownDelayMs + shutdownGraceMs (authbridge defaults 0
and 10000), rounded up, + 5 s for the process to exit.
*/}}
{{- define "authbridge.minGracePeriod" -}}
{{- $server := (.Values.config | default dict).server | default dict }}
{{- $ms := add (($server.shutdownDelayMs | default 0) | int) ((hasKey $server "shutdownGraceMs" | ternary $server.shutdownGraceMs 10000) | int) }}
{{- add (div (add $ms 999) 1000) (.Values.preStopSleepSeconds | default 0 | int) 5 }}
{{- end }}

{{/*
terminationGracePeriodSeconds: the explicit value if any (refused when shorter than the drain), else derived.
*/}}
{{- define "authbridge.gracePeriod" -}}
{{- $min := include "authbridge.minGracePeriod" . | int }}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}{{ $min }}
{{- else if eq (toString .Values.terminationGracePeriodSeconds) "" }}{{ $min }}
{{- else if lt (int .Values.terminationGracePeriodSeconds) $min }}
{{- fail (printf "terminationGracePeriodSeconds %v is shorter than the drain (preStopSleepSeconds + config.server.shutdownDelayMs + shutdownGraceMs + 5 s = %d s): the kubelet would SIGKILL in-flight requests; raise it or leave it empty to derive it" .Values.terminationGracePeriodSeconds $min) }}
{{- else }}{{ .Values.terminationGracePeriodSeconds | int }}
{{- end }}
{{- end }}

{{/*
ServiceAccount name.
*/}}
{{- define "authbridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "authbridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Name of the Secret mounted at keys.mountPath: keys.existingSecret, else the chart-managed one when
keys.files is set, else "" (nothing mounted).
*/}}
{{- define "authbridge.keysSecretName" -}}
{{- if .Values.keys.existingSecret }}
{{- tpl .Values.keys.existingSecret $ }}
{{- else if .Values.keys.files }}
{{- printf "%s-keys" (include "authbridge.fullname" . | trunc 58 | trimSuffix "-") }}
{{- end }}
{{- end }}

{{/*
${VAR} references in the rendered config (not the $${ escape), sorted, unique.
*/}}
{{- define "authbridge.envRefs" -}}
{{- $refs := list }}
{{- range (regexFindAll "\\$*\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}" (include "authbridge.config" .) -1) }}
{{- if not (hasPrefix "$$" .) }}
{{- $refs = append $refs (trimPrefix "$" . | trimPrefix "{" | trimSuffix "}") }}
{{- end }}
{{- end }}
{{- $refs | uniq | sortAlpha | join " " }}
{{- end }}

{{/*
Refuses combinations that would deploy something broken. Included by the Deployment.
*/}}
{{- define "authbridge.validate" -}}
{{- $config := fromYaml (include "authbridge.config" .) }}
{{- $server := $config.server | default dict }}
{{- $store := include "authbridge.storeType" . }}
{{- if not $config.upstreams }}
{{- fail "config.upstreams must define at least one upstream (authbridge refuses to start without one)" }}
{{- end }}
{{- if and (include "authbridge.multiReplica" .) (eq $store "memory") (not .Values.allowMemoryStoreWithReplicas) }}
{{- fail (printf "%s with the memory store: every replica would keep its own jti records and managed keys. Use a shared store (config.store type redis, or redis.enabled=true), set replicaCount=1, or set allowMemoryStoreWithReplicas=true if you accept it" (ternary "autoscaling.enabled" (printf "replicaCount %v" .Values.replicaCount) .Values.autoscaling.enabled)) }}
{{- end }}
{{- if and (ne (toString ($server.workers | default 1)) "1") (eq $store "memory") }}
{{- fail (printf "workers %v with the memory store: the memory store lives in one process, so each worker would keep its own jti records, throttle counters and managed keys. Use a shared store (config.store type redis, or redis.enabled=true) or workers=1" $server.workers) }}
{{- end }}
{{- if include "authbridge.isLoopback" ($server.host | default "0.0.0.0") }}
{{- fail (printf "config.server.host %s is loopback-only: the kubelet probes and the Service connect to the pod IP. Use 0.0.0.0 (for a loopback sidecar see the chart README)" $server.host) }}
{{- end }}
{{- $metricsPort := include "authbridge.metricsPort" . }}
{{- if and $metricsPort (eq $metricsPort (include "authbridge.containerPort" .)) }}
{{- fail "config.server.metricsPort must differ from config.server.port" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not $metricsPort) }}
{{- fail (printf "metrics.serviceMonitor.enabled: config.server.metricsHost %s is loopback-only, and Prometheus scrapes the pod IP. Use 0.0.0.0 (the chart's default)" ($server.metricsHost | default "127.0.0.1")) }}
{{- end }}
{{- if and .Values.keys.existingSecret .Values.keys.files }}
{{- fail "set keys.existingSecret or keys.files, not both" }}
{{- end }}
{{- end }}

{{/*
Labels of the bundled Redis objects (never the authbridge selector labels).
*/}}
{{- define "authbridge.redisLabels" -}}
helm.sh/chart: {{ include "authbridge.chart" . }}
{{ include "authbridge.redisSelectorLabels" . }}
app.kubernetes.io/component: redis
app.kubernetes.io/part-of: {{ include "authbridge.name" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Labels of one alert: its severity, then metrics.prometheusRule.additionalAlertLabels. Takes (list $ severity).
*/}}
{{- define "authbridge.alertLabels" -}}
{{- $ := index . 0 }}
severity: {{ index . 1 | quote }}
{{- with $.Values.metrics.prometheusRule.additionalAlertLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
An alert's runbook annotations: the hint, and runbook_url when metrics.prometheusRule.runbookUrl is set.
Takes (list $ alertname hint).
*/}}
{{- define "authbridge.runbook" -}}
{{- $ := index . 0 }}
{{- $anchor := index . 1 | lower }}
runbook: {{ index . 2 | quote }}
{{- with $.Values.metrics.prometheusRule.runbookUrl }}
runbook_url: {{ printf "%s#%s" . $anchor | quote }}
{{- end }}
{{- end }}
