{{/*
lameduck.dashboard: the Grafana dashboard (dashboards/lameduck.json of this chart) in a ConfigMap that Grafana's
dashboard sidecar picks up by label. Enable it in one release per cluster or namespace: every release that enables
it renders the same dashboard.
*/}}
{{- define "lameduck.dashboard" -}}
{{- include "lameduck.checkContext" . -}}
{{- $v := .Values -}}
{{- if $v.dashboard.enabled }}
{{- $lib := index .root.Subcharts (include "lameduck.libraryChart" .) }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ printf "%s-dashboard" (include "lameduck.name" .) | trunc 63 | trimSuffix "-" }}
  namespace: {{ $v.dashboard.namespace | default .root.Release.Namespace }}
  labels:
    {{- include "lameduck.labels" . | nindent 4 }}
    {{- with $v.dashboard.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $v.dashboard.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
data:
  lameduck.json: |-
    {{- $lib.Files.Get "dashboards/lameduck.json" | trim | nindent 4 }}
{{- end }}
{{- end -}}
