{{/*
lameduck.prometheusRule: alerts on what a drain should never do. A drain happens in a pod's last seconds, so the
alerts look back over a window with increase()/max_over_time() and fire at once (no `for:`); a drain whose last
scrape never came is only in the pod's Event and the summary log line (docs/design.md, "Metrics").
  LameduckRequestsCut       requests or connections destroyed at the drain deadline: the grace period is too short
                            for the traffic, or the app holds connections open
  LameduckFallbackDrain     the API could not tell whether the pod was still routed (RBAC, identity, API down), so
                            the drain served for the fallback delay instead
  LameduckDrainNearDeadline a drain took more than nearDeadlineRatio of its deadline: the next one may be cut
The deadline is the one lameduck computes for this pod: drainTimeout, else the grace period minus exitMargin.
*/}}
{{- define "lameduck.prometheusRule" -}}
{{- include "lameduck.checkContext" . -}}
{{- $v := .Values -}}
{{- if $v.prometheusRule.enabled }}
{{- $r := $v.prometheusRule -}}
{{- $sel := $r.selector | default (printf "namespace=%q" .root.Release.Namespace) -}}
{{- $deadline := include "lameduck.drainDeadlineSeconds" . | float64 -}}
{{- $threshold := mulf $deadline (float64 $r.nearDeadlineRatio) }}
---
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: {{ include "lameduck.name" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "lameduck.labels" . | nindent 4 }}
    {{- with $r.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  groups:
    - name: {{ include "lameduck.name" . }}
      rules:
        - alert: LameduckRequestsCut
          expr: |-
            sum by (namespace, pod, kind) (increase(lameduck_cut_total{ {{- $sel -}} }[{{ $r.window }}])) > 0
          labels:
            severity: {{ $r.severity | quote }}
          annotations:
            summary: {{ `lameduck cut {{ $value | humanize }} {{ $labels.kind }}(s) at the drain deadline in {{ $labels.namespace }}/{{ $labels.pod }}` | quote }}
            description: {{ `Requests or connections were destroyed when the drain deadline (grace period minus exit margin) expired. Raise terminationGracePeriodSeconds, or shorten the app's longest requests and keep-alive connections.` | quote }}
        - alert: LameduckFallbackDrain
          expr: |-
            sum by (namespace, pod, reason) (increase(lameduck_fallbacks_total{ {{- $sel -}} }[{{ $r.window }}])) > 0
          labels:
            severity: {{ $r.severity | quote }}
          annotations:
            summary: {{ `lameduck drained {{ $labels.namespace }}/{{ $labels.pod }} on the timed fallback ({{ $labels.reason }})` | quote }}
            description: {{ `The Kubernetes API could not tell whether the pod was still routed, so lameduck served for its fallback delay instead. forbidden: check the Role and RoleBinding; unauthorized: the token; no_identity: the Downward API env; unreachable: the API server.` | quote }}
        - alert: LameduckDrainNearDeadline
          expr: |-
            max by (namespace, pod) (max_over_time(lameduck_drain_duration_seconds{ {{- $sel -}} }[{{ $r.window }}])) > {{ printf "%.1f" $threshold }}
          labels:
            severity: {{ $r.severity | quote }}
          annotations:
            summary: {{ printf "lameduck drain of {{ $labels.namespace }}/{{ $labels.pod }} took {{ $value | humanizeDuration }} of its %ss deadline" (toString $deadline) | quote }}
            description: {{ `A drain used most of its deadline; a slower one will be cut. Raise terminationGracePeriodSeconds, or lower settle/quiet for this environment.` | quote }}
{{- end }}
{{- end -}}
