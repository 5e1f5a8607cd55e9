{{/*
lameduck.terminationGracePeriodSeconds: a grace period long enough for a whole drain, in whole seconds.

lameduck's deadline is the grace period minus exitMargin (docs/design.md, "Deadline"), so the grace period must hold:
  the wait for deregistration - or the fallback delay when the API cannot tell, whichever is longer -
  + settle + quiet (serving after deregistration; with `headless`, the longer of settle and dnsSettle)
  + the longest request (in-flight requests finish during closing)
  + exitMargin (the app's own exit after release).
With the defaults: max(10s, 15s) + 2s + 1s + 10s + 5s = 33s. With an explicit drainTimeout: drainTimeout + exitMargin.
Kubelet's grace period runs from the delete, so preStop hooks and SIGTERM handling all fit inside it.

Usage: terminationGracePeriodSeconds: {{ include "lameduck.terminationGracePeriodSeconds" $ctx }}
*/}}
{{- define "lameduck.terminationGracePeriodSeconds" -}}
{{- include "lameduck.checkContext" . -}}
{{- $v := .Values -}}
{{- $margin := include "lameduck.seconds" $v.exitMargin | float64 -}}
{{- if $v.drainTimeout -}}
{{- addf (include "lameduck.seconds" $v.drainTimeout | float64) $margin | ceil | int -}}
{{- else -}}
{{- $deregistration := maxf (include "lameduck.seconds" $v.gracePeriod.deregistration | float64) (include "lameduck.seconds" $v.fallbackDelay | float64) -}}
{{- $settle := include "lameduck.seconds" (include "lameduck.settle" .) | float64 -}}
{{- if $v.headless -}}
{{- $settle = maxf $settle (include "lameduck.seconds" ($v.dnsSettle | default "35s") | float64) -}}
{{- end -}}
{{- $quiet := include "lameduck.seconds" $v.quiet | float64 -}}
{{- $longest := include "lameduck.seconds" $v.gracePeriod.longestRequest | float64 -}}
{{- addf $deregistration $settle $quiet $longest $margin | ceil | int -}}
{{- end -}}
{{- end -}}

{{/*
lameduck.drainDeadlineSeconds: the deadline lameduck will compute for this pod (used by the PrometheusRule's
"near the deadline" alert): drainTimeout, else the pod's grace period (its own, else the helper's) minus exitMargin,
at least 1 s.
*/}}
{{- define "lameduck.drainDeadlineSeconds" -}}
{{- $v := .Values -}}
{{- if $v.drainTimeout -}}
{{- include "lameduck.seconds" $v.drainTimeout -}}
{{- else -}}
{{- $spec := .podSpec | default dict -}}
{{- $grace := 0.0 -}}
{{- if hasKey $spec "terminationGracePeriodSeconds" -}}
{{- $grace = float64 $spec.terminationGracePeriodSeconds -}}
{{- else -}}
{{- $grace = include "lameduck.terminationGracePeriodSeconds" . | float64 -}}
{{- end -}}
{{- maxf 1.0 (subf $grace (include "lameduck.seconds" $v.exitMargin | float64)) -}}
{{- end -}}
{{- end -}}
