{{/* Names, labels and references shared by every template. */}}

{{- define "gitops-deployer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name; a release named like the chart is not doubled (gitops-deployer, not gitops-deployer-gitops-deployer). */}}
{{- define "gitops-deployer.fullname" -}}
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

{{/* <full name>-<suffix>, within the 63 characters of a DNS label. */}}
{{- define "gitops-deployer.componentName" -}}
{{- printf "%s-%s" (include "gitops-deployer.fullname" .root | trunc (int (sub 62 (len .component))) | trimSuffix "-") .component }}
{{- end }}

{{- define "gitops-deployer.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels of one component: {root, component}. Never change them: a Deployment's selector is immutable. */}}
{{- define "gitops-deployer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gitops-deployer.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* All labels of one component's objects: {root, component}. */}}
{{- define "gitops-deployer.labels" -}}
helm.sh/chart: {{ include "gitops-deployer.chart" .root }}
{{ include "gitops-deployer.selectorLabels" . }}
app.kubernetes.io/version: {{ include "gitops-deployer.imageTag" .root | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/part-of: gitops-deployer
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{- define "gitops-deployer.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* repository:tag, or repository@digest when a digest is pinned. */}}
{{- define "gitops-deployer.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "gitops-deployer.imageTag" .) }}
{{- end }}
{{- end }}

{{- define "gitops-deployer.workerServiceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gitops-deployer.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "gitops-deployer.relayServiceAccountName" -}}
{{- if .Values.relay.serviceAccount.create }}
{{- default (include "gitops-deployer.componentName" (dict "root" . "component" "relay")) .Values.relay.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.relay.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "gitops-deployer.configMapName" -}}
{{- include "gitops-deployer.componentName" (dict "root" . "component" "config") }}
{{- end }}

{{/* The Secret every secret reference falls back to. */}}
{{- define "gitops-deployer.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "gitops-deployer.fullname" .) }}
{{- end }}

{{/* One environment variable from a Secret: {root, env, ref: {name, key}}. */}}
{{- define "gitops-deployer.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ .ref.name | default (include "gitops-deployer.secretName" .root) | quote }}
      key: {{ .ref.key | quote }}
{{- end }}

{{/* The variable a notification sink's URL comes from: deploys-slack → NOTIFY_DEPLOYS_SLACK_URL (notifyUrlVariable in src/config/schema.ts). */}}
{{- define "gitops-deployer.notifyUrlVariable" -}}
{{- printf "NOTIFY_%s_URL" (. | upper | replace "-" "_") }}
{{- end }}

{{/* The config as mounted: the values' config with the git cache where the worker's emptyDir is. */}}
{{- define "gitops-deployer.config" -}}
{{- $config := deepCopy .Values.config }}
{{- $git := get $config "git" | default dict }}
{{- $_ := set $git "cacheDir" .Values.worker.gitCache.mountPath }}
{{- $_ := set $config "git" $git }}
{{- toYaml $config }}
{{- end }}

{{- define "gitops-deployer.configPath" -}}
/etc/gitops-deployer/deploy.config.yaml
{{- end }}

{{/* Pod annotations that roll the pods when what they read at start changes. */}}
{{- define "gitops-deployer.checksums" -}}
checksum/config: {{ include "gitops-deployer.config" . | sha256sum }}
{{- end }}

{{/*
The default spread of one component over nodes and zones, preferred rather than required so a small or tainted
cluster still schedules; matchLabelKeys counts this rollout's pods, not the old ReplicaSet's: {root, component}.
*/}}
{{- define "gitops-deployer.topologySpread" -}}
{{- range $key := list "kubernetes.io/hostname" "topology.kubernetes.io/zone" }}
- maxSkew: 1
  topologyKey: {{ $key }}
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "gitops-deployer.selectorLabels" $ | nindent 6 }}
  matchLabelKeys: [pod-template-hash]
{{- end }}
{{- end }}
