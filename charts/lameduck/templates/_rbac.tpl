{{/*
lameduck.rbac: the Role with exactly the verbs lameduck's enabled features need (docs/design.md, "Kubernetes API use"),
bound to the pod's ServiceAccount, plus that ServiceAccount when serviceAccount.create is set. Namespace-scoped: the
drain only reads its own namespace.
*/}}
{{- define "lameduck.rbac" -}}
{{- include "lameduck.checkContext" . -}}
{{- $v := .Values -}}
{{- $name := include "lameduck.name" . -}}
{{- $sa := include "lameduck.serviceAccountName" . -}}
{{- if $v.serviceAccount.create }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $sa }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "lameduck.labels" . | nindent 4 }}
{{- end }}
{{- if $v.rbac.create }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ $name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "lameduck.labels" . | nindent 4 }}
rules:
  {{- /* Its own Pod: terminating or not (deletionTimestamp, DisruptionTarget, phase) and the grace period. The
  pod watch (watchPod) lists and watches with a field selector on its name. */}}
  - apiGroups: [""]
    resources: ["pods"]
    verbs: {{ if $v.watchPod }}["get", "list", "watch"]{{ else }}["get"]{{ end }}
  {{- /* Deregistration: every EndpointSlice of the namespace, grouped by Service. */}}
  - apiGroups: ["discovery.k8s.io"]
    resources: ["endpointslices"]
    verbs: ["list", "watch"]
  {{- /* publishNotReadyAddresses and traffic policy of the Services that route the pod. */}}
  - apiGroups: [""]
    resources: ["services"]
    verbs: ["get"]
  {{- /* One Event on the pod per drain: the durable record when the last scrape never came. */}}
  - apiGroups: [""]
    resources: ["events"]
    verbs: ["create"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ $name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "lameduck.labels" . | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ $name }}
subjects:
  - kind: ServiceAccount
    name: {{ $sa }}
    namespace: {{ .root.Release.Namespace }}
{{- end }}
{{- end -}}

{{/*
The ServiceAccount the Role binds: the dedicated one when serviceAccount.create, else the pod's own (a pod has one,
and replacing the app's would break IRSA/Workload Identity and the app's own RBAC).
*/}}
{{- define "lameduck.serviceAccountName" -}}
{{- $v := .Values -}}
{{- $spec := .podSpec | default dict -}}
{{- if $v.serviceAccount.create -}}
{{- $v.serviceAccount.name | default (include "lameduck.name" .) -}}
{{- else -}}
{{- if and $spec.serviceAccountName $v.serviceAccount.name (ne $spec.serviceAccountName $v.serviceAccount.name) -}}
{{- fail (printf "lameduck: serviceAccount.name %q differs from the pod's serviceAccountName %q; the Role must bind the pod's own ServiceAccount" $v.serviceAccount.name $spec.serviceAccountName) -}}
{{- end -}}
{{- $spec.serviceAccountName | default $v.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}
