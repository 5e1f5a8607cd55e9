{{/*
lameduck.resources: every object lameduck needs besides the pod: the /prestop token Secret (unless an existing one is
named), ServiceAccount (optional), Role and RoleBinding, NetworkPolicy (optional), Grafana dashboard ConfigMap
(optional), PrometheusRule (optional). Multi-document YAML; put it in one template file:

  {{- include "lameduck.resources" (dict "Values" .Values.lameduck "root" $ "podSpec" $podSpec) }}

Pass the same podSpec as to lameduck.podSpec: the RoleBinding binds its serviceAccountName, and the PrometheusRule's
deadline uses its terminationGracePeriodSeconds.
*/}}
{{- define "lameduck.resources" -}}
{{- include "lameduck.checkContext" . -}}
{{- include "lameduck.prestopTokenSecret" . }}
{{- include "lameduck.rbac" . }}
{{- include "lameduck.networkPolicy" . }}
{{- include "lameduck.dashboard" . }}
{{- include "lameduck.prometheusRule" . }}
{{- end -}}
