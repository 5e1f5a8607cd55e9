{{- define "injector.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "injector.labels" -}}
app.kubernetes.io/name: lameduck-injector
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
{{- end -}}

{{- define "injector.selectorLabels" -}}
app.kubernetes.io/name: lameduck-injector
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end -}}

{{/* The names the API server dials: <service>.<namespace>.svc (the certificate's SANs). */}}
{{- define "injector.dnsNames" -}}
{{- $svc := include "injector.fullname" . -}}
{{- list $svc (printf "%s.%s" $svc .Release.Namespace) (printf "%s.%s.svc" $svc .Release.Namespace) (printf "%s.%s.svc.cluster.local" $svc .Release.Namespace) | toJson -}}
{{- end -}}

{{- define "injector.tlsSecret" -}}
{{- printf "%s-tls" (include "injector.fullname" .) -}}
{{- end -}}
