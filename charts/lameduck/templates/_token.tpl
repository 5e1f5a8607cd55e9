{{/*
The /prestop token (LAMEDUCK_PRESTOP_TOKEN). lameduck starts a drain the Kubernetes API does not confirm (the
native-mode fallback drain, a forced drain) only for a caller holding it, so that whoever reaches the admin port
cannot take the pod out of service (docs/reliability.md, "Threat model"). The chart always configures one: the
sidecar reads it from a Secret, and the app container's preStop httpGet sends it as X-Lameduck-Token (kubelet's
httpGet hooks take literal header values only, so the value is in the pod template too).

  prestopToken.secretName empty (default): the chart renders the Secret `<name>-prestop-token` with a random token,
    generated at install and kept across upgrades (read back with `lookup`).
  prestopToken.secretName set: an existing Secret, read with `lookup` (it must exist before install; `helm template`
    without a cluster cannot read it and stops with a message).
*/}}
{{- define "lameduck.prestopTokenSecretName" -}}
{{- .Values.prestopToken.secretName | default (printf "%s-prestop-token" (include "lameduck.name" .) | trunc 63 | trimSuffix "-") -}}
{{- end -}}

{{/*
The token value. lameduck.podSpec and lameduck.resources are separate includes, often in separate files, and both
need the same value: the first one to ask generates it and keeps it on the root context for the rest of the render.
*/}}
{{- define "lameduck.prestopTokenValue" -}}
{{- $v := .Values -}}
{{- $name := include "lameduck.prestopTokenSecretName" . -}}
{{- $ns := .root.Release.Namespace -}}
{{- $cacheKey := printf "lameduckPrestopToken/%s/%s" $ns $name -}}
{{- if not (hasKey .root $cacheKey) -}}
{{- $existing := lookup "v1" "Secret" $ns $name -}}
{{- $data := (get ($existing | default dict) "data") | default dict -}}
{{- $value := "" -}}
{{- if hasKey $data $v.prestopToken.secretKey -}}
{{- $value = get $data $v.prestopToken.secretKey | b64dec -}}
{{- else if $v.prestopToken.secretName -}}
{{- fail (printf "lameduck: prestopToken.secretName %q: no Secret with key %q in namespace %s. Create it first (the app's preStop hook must carry its value), leave secretName empty to let the chart generate one, or render with --dry-run=server so that lookup can read it" $name $v.prestopToken.secretKey $ns) -}}
{{- else -}}
{{- $value = randAlphaNum 40 -}}
{{- end -}}
{{- $_ := set .root $cacheKey $value -}}
{{- end -}}
{{- get .root $cacheKey -}}
{{- end -}}

{{/* The chart-managed token Secret (nothing when prestopToken.secretName names an existing one). */}}
{{- define "lameduck.prestopTokenSecret" -}}
{{- if not .Values.prestopToken.secretName }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "lameduck.prestopTokenSecretName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "lameduck.labels" . | nindent 4 }}
type: Opaque
data:
  {{ .Values.prestopToken.secretKey }}: {{ include "lameduck.prestopTokenValue" . | b64enc | quote }}
{{- end }}
{{- end -}}
