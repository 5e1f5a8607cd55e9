{{/*
The sidecar container, as a YAML mapping.

  lameduck.container      classic sidecar: add it to `containers`
  lameduck.nativeSidecar  native sidecar: add it to `initContainers` (the same container plus `restartPolicy: Always`)

Both take the context dict (see _helpers.tpl); pass "podSpec" too, so that the projected API token (pods with
automountServiceAccountToken: false) and the app's UID (legacyApp with a signal:) can be derived from it.
lameduck.podSpec does all of this for you; use these two only to place the container yourself:
  initContainers:
    - {{- include "lameduck.nativeSidecar" $ctx | nindent 6 }}
*/}}
{{- define "lameduck.container" -}}
{{- include "lameduck.checkContext" . -}}
{{- $v := .Values -}}
{{- $names := list -}}
{{- range include "lameduck.env" . | fromYamlArray -}}
{{- if has .name $names -}}
{{- fail (printf "lameduck: environment variable %s is set twice; extraEnv must not repeat what the chart sets (use the chart's own key for it)" .name) -}}
{{- end -}}
{{- $names = append $names .name -}}
{{- end -}}
name: {{ $v.containerName }}
image: {{ include "lameduck.image" . | quote }}
imagePullPolicy: {{ $v.image.pullPolicy }}
ports:
  - name: {{ $v.ports.trafficName }}
    containerPort: {{ int $v.ports.traffic }}
    protocol: TCP
  - name: {{ $v.ports.adminName }}
    containerPort: {{ int $v.ports.admin }}
    protocol: TCP
env:
  {{- include "lameduck.env" . | nindent 2 }}
{{- /*
Startup on /healthz, never /readyz: /readyz depends on the app, and in native mode kubelet starts the app only after
this probe passed - a probe on /readyz would deadlock the pod.
*/}}
startupProbe:
  httpGet:
    path: /healthz
    port: {{ $v.ports.adminName }}
  periodSeconds: {{ int $v.startupProbe.periodSeconds }}
  failureThreshold: {{ int $v.startupProbe.failureThreshold }}
  timeoutSeconds: 1
{{- /*
Readiness every second with failureThreshold 1: once a drain answers 503 the endpoint must turn not-ready within a
second (docs/design.md, "deregistering"); a slower probe only delays the rollout.
*/}}
readinessProbe:
  httpGet:
    path: /readyz
    port: {{ $v.ports.adminName }}
  periodSeconds: 1
  failureThreshold: 1
  successThreshold: 1
  timeoutSeconds: 1
{{- if $v.livenessProbe.enabled }}
livenessProbe:
  httpGet:
    path: /healthz
    port: {{ $v.ports.adminName }}
  periodSeconds: {{ int $v.livenessProbe.periodSeconds }}
  failureThreshold: {{ int $v.livenessProbe.failureThreshold }}
  timeoutSeconds: 2
{{- end }}
resources:
  {{- toYaml $v.resources | nindent 2 }}
securityContext:
  {{- include "lameduck.securityContext" . | nindent 2 }}
{{- if eq (include "lameduck.projectToken" .) "true" }}
volumeMounts:
  {{- /* Where client-node's in-cluster config looks for token, ca.crt and namespace. */}}
  - name: {{ include "lameduck.tokenVolumeName" . }}
    mountPath: /var/run/secrets/kubernetes.io/serviceaccount
    readOnly: true
{{- end }}
{{- end -}}

{{- define "lameduck.nativeSidecar" -}}
{{- include "lameduck.checkContext" . -}}
{{- $kube := .root.Capabilities.KubeVersion.Version -}}
{{- if not (semverCompare ">=1.29.0-0" $kube) -}}
{{- fail (printf "lameduck: mode native needs Kubernetes 1.29 or later (native sidecars; GA in 1.33), this is %s; use mode: classic" $kube) -}}
{{- end -}}
{{ include "lameduck.container" . }}
{{- /* restartPolicy Always on an init container is what makes it a sidecar (KEP-753). */}}
restartPolicy: Always
{{- end -}}

{{- define "lameduck.env" -}}
{{- $v := .Values -}}
{{- /* Identity from the Downward API: the drain matches its endpoint by uid, or by IPs where targetRef is missing. */}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: POD_UID
  valueFrom:
    fieldRef:
      fieldPath: metadata.uid
- name: POD_IPS
  valueFrom:
    fieldRef:
      fieldPath: status.podIPs
- name: LAMEDUCK_MODE
  value: {{ $v.mode | quote }}
- name: LAMEDUCK_LISTEN
  value: {{ printf ":%d" (int $v.ports.traffic) | quote }}
- name: LAMEDUCK_ADMIN_LISTEN
  value: {{ printf ":%d" (int $v.ports.admin) | quote }}
- name: LAMEDUCK_UPSTREAM
  value: {{ printf "%s://127.0.0.1:%d" $v.appProtocol (int $v.appPort) | quote }}
- name: LAMEDUCK_SETTLE
  value: {{ include "lameduck.settle" . | quote }}
{{- with $v.dnsSettle }}
- name: LAMEDUCK_DNS_SETTLE
  value: {{ . | quote }}
{{- end }}
- name: LAMEDUCK_QUIET
  value: {{ $v.quiet | quote }}
{{- with $v.quietIgnorePaths }}
- name: LAMEDUCK_QUIET_IGNORE_PATHS
  value: {{ join "," . | quote }}
{{- end }}
{{- with $v.ignoreServices }}
- name: LAMEDUCK_IGNORE_SERVICES
  value: {{ join "," . | quote }}
{{- end }}
- name: LAMEDUCK_FALLBACK_DELAY
  value: {{ $v.fallbackDelay | quote }}
{{- with $v.drainTimeout }}
- name: LAMEDUCK_DRAIN_TIMEOUT
  value: {{ . | quote }}
{{- end }}
- name: LAMEDUCK_EXIT_MARGIN
  value: {{ $v.exitMargin | quote }}
{{- if and $v.legacyApp.enabled (ne $v.legacyApp.exit "hook") }}
- name: LAMEDUCK_APP_EXIT
  value: {{ $v.legacyApp.exit | quote }}
- name: LAMEDUCK_APP_PROCESS
  value: {{ $v.legacyApp.processPattern | quote }}
{{- end }}
{{- /* Always set: without it a native sidecar starts no fallback drain (_token.tpl). */}}
- name: LAMEDUCK_PRESTOP_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "lameduck.prestopTokenSecretName" . }}
      key: {{ $v.prestopToken.secretKey }}
- name: LAMEDUCK_WATCH_POD
  value: {{ $v.watchPod | toString | quote }}
- name: LAMEDUCK_LOG_LEVEL
  value: {{ $v.logLevel | quote }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Hardened securityContext. With legacyApp and a signal: exit, lameduck runs as the app's UID: kill(2) needs the same
UID or CAP_KILL, and this context drops every capability.
*/}}
{{- define "lameduck.securityContext" -}}
{{- $v := .Values -}}
{{- $uid := int $v.runAsUser -}}
{{- if eq (include "lameduck.signalsApp" .) "true" -}}
{{- $uid = include "lameduck.appUid" . | int -}}
{{- end -}}
{{- $sc := dict "runAsNonRoot" true "runAsUser" $uid "runAsGroup" (int $v.runAsUser) "readOnlyRootFilesystem" true "allowPrivilegeEscalation" false "privileged" false "capabilities" (dict "drop" (list "ALL")) "seccompProfile" (dict "type" "RuntimeDefault") -}}
{{- toYaml (mergeOverwrite $sc (deepCopy $v.securityContext)) -}}
{{- end -}}

{{- define "lameduck.signalsApp" -}}
{{- $v := .Values -}}
{{- if ne $v.legacyApp.exit "hook" -}}
{{- if not $v.legacyApp.enabled -}}
{{- fail (printf "lameduck: legacyApp.exit=%s needs legacyApp.enabled=true (the app's process must be visible to lameduck: shareProcessNamespace)" $v.legacyApp.exit) -}}
{{- end -}}
{{- if not $v.legacyApp.processPattern -}}
{{- fail (printf "lameduck: legacyApp.exit=%s needs legacyApp.processPattern, a regular expression on /proc/*/cmdline that finds the app" $v.legacyApp.exit) -}}
{{- end -}}
true
{{- else -}}
false
{{- end -}}
{{- end -}}

{{/* The app's UID for legacyApp signal: exits: explicit, else the app container's, else the pod's runAsUser. */}}
{{- define "lameduck.appUid" -}}
{{- $v := .Values -}}
{{- $spec := .podSpec | default dict -}}
{{- $uid := $v.legacyApp.runAsUser -}}
{{- if kindIs "invalid" $uid -}}
{{- $app := include "lameduck.appContainer" . | fromYaml -}}
{{- $appSc := $app.securityContext | default dict -}}
{{- $podSc := $spec.securityContext | default dict -}}
{{- if hasKey $appSc "runAsUser" -}}
{{- $uid = $appSc.runAsUser -}}
{{- else if hasKey $podSc "runAsUser" -}}
{{- $uid = $podSc.runAsUser -}}
{{- end -}}
{{- end -}}
{{- if kindIs "invalid" $uid -}}
{{- fail "lameduck: legacyApp.exit=signal:… needs the app's UID (kill(2) needs the same UID): set legacyApp.runAsUser, or runAsUser in the app container's or the pod's securityContext" -}}
{{- end -}}
{{- if eq (int $uid) 0 -}}
{{- fail "lameduck: the app runs as root (UID 0); lameduck will not run as root to signal it. Run the app as a non-root UID, or use legacyApp.exit=hook (shareProcessNamespace alone lets kubelet's SIGTERM end the app)" -}}
{{- end -}}
{{- int $uid -}}
{{- end -}}
