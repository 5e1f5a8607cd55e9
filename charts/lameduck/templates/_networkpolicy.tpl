{{/*
lameduck.networkPolicy (networkPolicy.enabled): who may reach the pod's ports. The admin port (/prestop, /metrics,
/status) listens on every interface of the pod, so without a policy anything in the cluster network reaches it
(docs/reliability.md, "Threat model"). The policy selects the pod and allows:
  - the traffic port from `networkPolicy.trafficFrom` (empty: from anywhere - the Service's clients);
  - the admin port from Prometheus (namespace and pod selector) and `networkPolicy.adminFrom`;
  - the ports in `networkPolicy.extraPorts` from anywhere (the app's other ports, if it has any).
Kubelet's httpGet probes and the app's preStop hook come from the node; NetworkPolicy does not block a node's
traffic to its own pods (https://kubernetes.io/docs/concepts/services-networking/network-policies/), so they need no
rule. The pod's labels: the context's "podLabels" (a dict), else networkPolicy.podSelector.
*/}}
{{- define "lameduck.networkPolicy" -}}
{{- $v := .Values -}}
{{- $np := $v.networkPolicy -}}
{{- if $np.enabled }}
{{- $labels := .podLabels | default $np.podSelector -}}
{{- if not $labels -}}
{{- fail "lameduck: networkPolicy.enabled needs the pod's labels: pass \"podLabels\" in the context dict, or set networkPolicy.podSelector (an empty selector would select every pod of the namespace)" -}}
{{- end -}}
{{- $adminFrom := list -}}
{{- if or $np.prometheus.namespaceSelector $np.prometheus.podSelector -}}
{{- $peer := dict -}}
{{- with $np.prometheus.namespaceSelector }}{{ $_ := set $peer "namespaceSelector" . }}{{ end -}}
{{- with $np.prometheus.podSelector }}{{ $_ := set $peer "podSelector" . }}{{ end -}}
{{- $adminFrom = append $adminFrom $peer -}}
{{- end -}}
{{- $adminFrom = concat $adminFrom ($np.adminFrom | default list) }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "lameduck.name" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "lameduck.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- toYaml $labels | nindent 6 }}
  policyTypes: ["Ingress"]
  ingress:
    - ports:
        - port: {{ int $v.ports.traffic }}
          protocol: TCP
      {{- with $np.trafficFrom }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- if $adminFrom }}
    - ports:
        - port: {{ int $v.ports.admin }}
          protocol: TCP
      from:
        {{- toYaml $adminFrom | nindent 8 }}
    {{- end }}
    {{- with $np.extraPorts }}
    - ports:
        {{- range . }}
        - port: {{ int . }}
          protocol: TCP
        {{- end }}
    {{- end }}
{{- end }}
{{- end -}}
