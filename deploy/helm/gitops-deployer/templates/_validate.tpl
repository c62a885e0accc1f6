{{/*
Checks values.schema.json cannot state clearly: each failure names the value and the fix.
Included once, from configmap.yaml (rendered in every release).
*/}}

{{/* Names of variables that hold secrets: they must come from a Secret, never a plain value. */}}
{{- define "gitops-deployer.secretEnvName" -}}
(?i)(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|CREDENTIALS?|PRIVATE_?KEY|WEBHOOK_URL)$
{{- end }}

{{- define "gitops-deployer.validate" -}}
{{- $v := .Values }}

{{- $grace := int $v.worker.terminationGracePeriodSeconds }}
{{- $margin := int $v.worker.shutdownMarginSeconds }}
{{- if lt (sub $grace $margin) 1 }}
{{- fail (printf "worker.shutdownMarginSeconds (%d) must be less than worker.terminationGracePeriodSeconds (%d): the worker drains for the difference" $margin $grace) }}
{{- end }}

{{- $wi := $v.azure.workloadIdentity }}
{{- $sp := $v.azure.servicePrincipal }}
{{- if and $wi.enabled (not $wi.clientId) }}
{{- fail "azure.workloadIdentity.enabled needs azure.workloadIdentity.clientId: the client ID of the user-assigned managed identity (az identity show -g <group> -n <name> --query clientId)" }}
{{- end }}
{{- if and $wi.enabled $sp.clientId }}
{{- fail "azure.workloadIdentity and azure.servicePrincipal are exclusive: the workload identity webhook sets AZURE_CLIENT_ID itself; clear azure.servicePrincipal.clientId" }}
{{- end }}
{{- if and $sp.clientId (not $sp.tenantId) }}
{{- fail "azure.servicePrincipal.clientId needs azure.servicePrincipal.tenantId" }}
{{- end }}

{{- range $list := list (dict "at" "extraEnv" "env" $v.extraEnv) (dict "at" "worker.extraEnv" "env" $v.worker.extraEnv) (dict "at" "relay.extraEnv" "env" $v.relay.extraEnv) }}
{{- range $list.env }}
{{- if and (regexMatch (include "gitops-deployer.secretEnvName" $) .name) (hasKey . "value") }}
{{- fail (printf "%s: %s looks like a secret: take it from a Secret (valueFrom.secretKeyRef), never a plain value in the chart's values" $list.at .name) }}
{{- end }}
{{- end }}
{{- end }}

{{- $cloneUrl := dig "repository" "cloneUrl" "" $v.config }}
{{- if regexMatch "^[A-Za-z][A-Za-z0-9+.-]*://[^/@]*@" $cloneUrl }}
{{- if or (not (hasPrefix "ssh://" $cloneUrl)) (regexMatch "^ssh://[^/@]*:[^/@]*@" $cloneUrl) }}
{{- fail "config.repository.cloneUrl must not carry credentials: put the token in the Secret (secrets.githubToken), the worker sends it as a header" }}
{{- end }}
{{- end }}

{{- if ge (int $v.relay.preStopSleepSeconds) (int $v.relay.terminationGracePeriodSeconds) }}
{{- fail (printf "relay.preStopSleepSeconds (%d) must be less than relay.terminationGracePeriodSeconds (%d)" (int $v.relay.preStopSleepSeconds) (int $v.relay.terminationGracePeriodSeconds)) }}
{{- end }}

{{- if and $v.worker.metrics.serviceMonitor.enabled (not $v.worker.metrics.enabled) }}
{{- fail "worker.metrics.serviceMonitor.enabled needs worker.metrics.enabled" }}
{{- end }}
{{- end }}
