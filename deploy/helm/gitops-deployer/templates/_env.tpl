{{/*
Environment variables. Secrets appear only as secretKeyRef: the chart never sees their values.
Each define takes {root, component}.
*/}}

{{/* What every process reads: the config, HOME, Temporal (the names src/temporal/connection.ts reads), logs, traces. */}}
{{- define "gitops-deployer.env.common" -}}
{{- $v := .root.Values -}}
- name: DEPLOY_CONFIG
  value: {{ include "gitops-deployer.configPath" .root | quote }}
- name: HOME
  value: /tmp
- name: TEMPORAL_ADDRESS
  value: {{ $v.temporal.address | quote }}
{{- with $v.temporal.namespace }}
- name: TEMPORAL_NAMESPACE
  value: {{ . | quote }}
{{- end }}
{{- with $v.temporal.tls.existingSecret }}
- name: TEMPORAL_TLS_CERT
  value: {{ printf "%s/%s" (include "gitops-deployer.temporalTlsDir" $.root) $v.temporal.tls.certKey | quote }}
- name: TEMPORAL_TLS_KEY
  value: {{ printf "%s/%s" (include "gitops-deployer.temporalTlsDir" $.root) $v.temporal.tls.keyKey | quote }}
{{- end }}
{{- with $v.temporal.apiKey.existingSecret }}
{{ include "gitops-deployer.secretEnv" (dict "root" $.root "env" "TEMPORAL_API_KEY" "ref" (dict "name" . "key" $v.temporal.apiKey.key)) }}
{{- end }}
- name: LOG_FORMAT
  value: {{ $v.logging.format | quote }}
- name: LOG_LEVEL
  value: {{ $v.logging.level | quote }}
{{- with $v.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ printf "gitops-deployer-%s" $.component | quote }}
{{- end }}
{{- end }}

{{/* The worker's (and deployctl doctor's): GitHub, Argo CD, notification sinks and, without workload identity, a service principal. */}}
{{- define "gitops-deployer.env.worker" -}}
{{- $v := .root.Values -}}
{{ include "gitops-deployer.env.common" . }}
{{ include "gitops-deployer.secretEnv" (dict "root" .root "env" "GITHUB_TOKEN" "ref" $v.secrets.githubToken) }}
{{ include "gitops-deployer.secretEnv" (dict "root" .root "env" "ARGOCD_TOKEN" "ref" $v.secrets.argocdToken) }}
{{- /* Notification sinks' URLs: secrets (a Slack webhook's path is its token), read only by the worker and doctor. */}}
{{- range $v.secrets.notifications }}
{{- $variable := include "gitops-deployer.notifyUrlVariable" .name }}
{{ include "gitops-deployer.secretEnv" (dict "root" $.root "env" $variable "ref" (dict "name" .secretName "key" (.key | default $variable))) }}
{{- end }}
{{- with $v.azure.servicePrincipal }}
{{- if .clientId }}
- name: AZURE_CLIENT_ID
  value: {{ .clientId | quote }}
- name: AZURE_TENANT_ID
  value: {{ .tenantId | quote }}
{{ include "gitops-deployer.secretEnv" (dict "root" $.root "env" "AZURE_CLIENT_SECRET" "ref" .clientSecret) }}
{{- end }}
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "gitops-deployer.env.relay" -}}
{{- $v := .root.Values -}}
{{ include "gitops-deployer.env.common" . }}
{{ include "gitops-deployer.secretEnv" (dict "root" .root "env" "GITHUB_WEBHOOK_SECRET" "ref" $v.secrets.webhookSecret) }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "gitops-deployer.temporalTlsDir" -}}
/etc/temporal-tls
{{- end }}

{{/* Volumes every pod mounts: {root, tmpSizeLimit}. */}}
{{- define "gitops-deployer.volumes.common" -}}
- name: config
  configMap:
    name: {{ include "gitops-deployer.configMapName" .root }}
- name: tmp
  emptyDir:
    sizeLimit: {{ .tmpSizeLimit }}
{{- with .root.Values.temporal.tls.existingSecret }}
- name: temporal-tls
  secret:
    secretName: {{ . | quote }}
    defaultMode: 0440
{{- end }}
{{- end }}

{{- define "gitops-deployer.volumeMounts.common" -}}
- name: config
  mountPath: {{ include "gitops-deployer.configPath" .root | dir }}
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- if .root.Values.temporal.tls.existingSecret }}
- name: temporal-tls
  mountPath: {{ include "gitops-deployer.temporalTlsDir" .root }}
  readOnly: true
{{- end }}
{{- end }}

{{/* The worker's git cache (also doctor's, which clones the way the worker does). */}}
{{- define "gitops-deployer.volumes.gitCache" -}}
- name: git-cache
  emptyDir:
    sizeLimit: {{ .Values.worker.gitCache.sizeLimit }}
{{- end }}

{{- define "gitops-deployer.volumeMounts.gitCache" -}}
- name: git-cache
  mountPath: {{ .Values.worker.gitCache.mountPath }}
{{- end }}
