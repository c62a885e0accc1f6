{{/*
Checks values.schema.json cannot state clearly: each failure names the value and the fix.
Included once, from configmap.yaml (rendered in every release).
*/}}

{{/* Names of variables that hold secrets (a notification sink's NOTIFY_<NAME>_URL too): they must come from a Secret, never a plain value. */}}
{{- define "gitops-deployer.secretEnvName" -}}
(?i)((TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|CREDENTIALS?|PRIVATE_?KEY|WEBHOOK_URL)$|^NOTIFY_\w+_URL$)
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

{{- /*
Each sink in config.notifications needs NOTIFY_<NAME>_URL on the worker, or its preflight refuses to start: say so at
helm install. secrets.notifications sets it; so may extraEnv or worker.extraEnv by valueFrom, but not both.
*/}}
{{- $sinkRefs := dict }}
{{- range $v.secrets.notifications }}
{{- if hasKey $sinkRefs .name }}
{{- fail (printf "secrets.notifications: %q is listed twice: keep one reference per sink" .name) }}
{{- end }}
{{- $_ := set $sinkRefs .name true }}
{{- end }}
{{- $fromEnv := dict }}
{{- range concat ($v.extraEnv | default list) ($v.worker.extraEnv | default list) }}
{{- if .valueFrom }}
{{- $_ := set $fromEnv .name true }}
{{- end }}
{{- end }}
{{- range (dig "notifications" list $v.config | default list) }}
{{- if hasKey . "true" }}
{{- fail (printf "config.notifications %q: write \"on\" in quotes (\"on\": [succeeded, failed]): helm reads values as YAML 1.1, where a bare on: is the key true" .name) }}
{{- end }}
{{- $variable := include "gitops-deployer.notifyUrlVariable" .name }}
{{- if and (hasKey $sinkRefs .name) (hasKey $fromEnv $variable) }}
{{- fail (printf "%s is set twice, by secrets.notifications and by extraEnv: keep the secrets.notifications entry %q" $variable .name) }}
{{- end }}
{{- if not (or (hasKey $sinkRefs .name) (hasKey $fromEnv $variable)) }}
{{- fail (printf "config.notifications %q: the worker reads its URL from %s, which nothing sets: add {name: %s, key: <key>} to secrets.notifications, naming the key of the Secret (default secrets.existingSecret) that holds the webhook URL" .name $variable .name) }}
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
