{{/* Name of the chart, overridable. */}}
{{- define "flowscope.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: release-chart, unless the release name already contains the chart name. */}}
{{- define "flowscope.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Selector labels: stable for the life of the release (a DaemonSet's selector is immutable). */}}
{{- define "flowscope.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flowscope.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "flowscope.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "flowscope.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: agent
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "flowscope.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "flowscope.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Environment variable that carries the Secret key KEY (a librdkafka property name). */}}
{{- define "flowscope.secretEnvName" -}}
{{- printf "FLOWSCOPE_KAFKA_%s" (regexReplaceAll "[^A-Za-z0-9]" . "_" | upper) -}}
{{- end -}}

{{/*
Grace period: the agent exports its last interval and then waits up to kafka.flushTimeout for
Kafka to acknowledge; the kubelet must not SIGKILL it before that.
*/}}
{{- define "flowscope.gracePeriod" -}}
{{- if not (kindIs "invalid" .Values.terminationGracePeriodSeconds) -}}
{{- int64 .Values.terminationGracePeriodSeconds -}}
{{- else -}}
{{- $flush := div (add (int64 .Values.kafka.flushTimeout) 999) 1000 -}}
{{- max 30 (add $flush 5) -}}
{{- end -}}
{{- end -}}

{{/*
An INI value: inih reads to the end of the line and cuts at " ;" (inline comment), and a line
that starts with white space continues the previous one. Refuse what it would misread.
*/}}
{{- define "flowscope.iniValue" -}}
{{- $v := toString . -}}
{{- if or (contains "\n" $v) (contains "\r" $v) (regexMatch "\\s;" $v) (regexMatch "^\\s|\\s$" $v) -}}
{{- fail (printf "value %q cannot be written to flowscope.ini (newline, \" ;\" or surrounding white space)" $v) -}}
{{- end -}}
{{- $v -}}
{{- end -}}


{{/* Where the tracer policy's ConfigMap is mounted, and the file --policy reads. */}}
{{- define "flowscope.policyDir" -}}
/etc/flowscope-policy
{{- end -}}
{{- define "flowscope.policyFile" -}}
{{- printf "%s/policy.yaml" (include "flowscope.policyDir" .) -}}
{{- end -}}

{{/* True (non-empty) when the chart renders the tracer policy's ConfigMap. */}}
{{- define "flowscope.hasPolicy" -}}
{{- if and .Values.tracer.enabled .Values.tracer.policy -}}true{{- end -}}
{{- end -}}
