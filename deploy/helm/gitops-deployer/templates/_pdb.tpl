{{/* A PodDisruptionBudget for one component: {root, component, values}. minAvailable, when set, wins. */}}
{{- define "gitops-deployer.pdb" -}}
{{- $pdb := .values.podDisruptionBudget }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "gitops-deployer.componentName" . }}
  labels:
    {{- include "gitops-deployer.labels" . | nindent 4 }}
spec:
  {{- if not (kindIs "invalid" $pdb.minAvailable) }}
  minAvailable: {{ $pdb.minAvailable }}
  {{- else if not (kindIs "invalid" $pdb.maxUnavailable) }}
  maxUnavailable: {{ $pdb.maxUnavailable }}
  {{- else }}
  maxUnavailable: 1
  {{- end }}
  # Pods that are not ready (all of them while Temporal is down) must not block a node drain.
  unhealthyPodEvictionPolicy: AlwaysAllow
  selector:
    matchLabels:
      {{- include "gitops-deployer.selectorLabels" . | nindent 6 }}
{{- end }}
