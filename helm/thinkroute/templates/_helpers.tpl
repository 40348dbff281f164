{{/* Chart name, truncated to the DNS label limit. */}}
{{- define "thinkroute.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name, plus the chart name unless the release already holds it. */}}
{{- define "thinkroute.fullname" -}}
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

{{- define "thinkroute.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels shared by every object, pod templates included (no selector labels here). */}}
{{- define "thinkroute.metaLabels" -}}
helm.sh/chart: {{ include "thinkroute.chart" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: thinkroute
{{- end }}

{{/* Labels of every object's metadata. */}}
{{- define "thinkroute.labels" -}}
helm.sh/chart: {{ include "thinkroute.chart" . }}
app.kubernetes.io/name: {{ include "thinkroute.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: thinkroute
{{- end }}

{{/* Selector labels of one component (router, redis, local-backend): pass (list $ "router"). */}}
{{- define "thinkroute.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "thinkroute.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "thinkroute.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "thinkroute.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* image reference from {repository, tag, digest}: pass (list $ .Values.image). */}}
{{- define "thinkroute.image" -}}
{{- $root := index . 0 }}
{{- $img := index . 1 -}}
{{- if $img.digest }}
{{- printf "%s@%s" $img.repository $img.digest }}
{{- else }}
{{- printf "%s:%s" $img.repository (default $root.Chart.AppVersion $img.tag) }}
{{- end }}
{{- end }}

{{- define "thinkroute.redisName" -}}
{{- printf "%s-redis" (include "thinkroute.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "thinkroute.localBackendName" -}}
{{- printf "%s-local-backend" (include "thinkroute.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The policy file: values.policy; else localBackendPolicy pointed at the in-chart local backend when it is
enabled; else defaultPolicy. With otel.endpoint set, telemetry.otlp and telemetry.traces default to true (keys the
policy sets itself win), so the router exports to that endpoint. */}}
{{- define "thinkroute.policy" -}}
{{- $policy := dict }}
{{- if .Values.policy }}
{{- $policy = deepCopy .Values.policy }}
{{- else if .Values.localBackend.enabled }}
{{- $policy = deepCopy .Values.localBackendPolicy }}
{{- $url := printf "http://%s:%v/v1" (include "thinkroute.localBackendName" .) .Values.localBackend.service.port }}
{{- $_ := set $policy.backends.local "api_base" $url }}
{{- $_ = set $policy.backends.local "model" .Values.localBackend.model.name }}
{{- else }}
{{- $policy = deepCopy .Values.defaultPolicy }}
{{- end }}
{{- if .Values.otel.endpoint }}
{{- $telemetry := default (dict) $policy.telemetry }}
{{- if not (hasKey $telemetry "otlp") }}
{{- $_ := set $telemetry "otlp" true }}
{{- end }}
{{- if not (hasKey $telemetry "traces") }}
{{- $_ := set $telemetry "traces" true }}
{{- end }}
{{- $_ := set $policy "telemetry" $telemetry }}
{{- end }}
{{- toYaml $policy }}
{{- end }}
