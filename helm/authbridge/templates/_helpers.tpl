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
