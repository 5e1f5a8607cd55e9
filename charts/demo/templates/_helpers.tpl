{{- define "demo.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "demo.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "demo.labels" -}}
{{ include "demo.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/*
The app's pod spec, without lameduck: the deployment hands it to lameduck.podSpec, which adds the sidecar, the
preStop hook and the rest. Written exactly as it would be without lameduck.
*/}}
{{- define "demo.podSpec" -}}
{{- with .Values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
{{- if not (kindIs "invalid" .Values.automountServiceAccountToken) }}
automountServiceAccountToken: {{ .Values.automountServiceAccountToken }}
{{- end }}
{{- if not (kindIs "invalid" .Values.terminationGracePeriodSeconds) }}
terminationGracePeriodSeconds: {{ int .Values.terminationGracePeriodSeconds }}
{{- end }}
securityContext:
  runAsNonRoot: true
  seccompProfile:
    type: RuntimeDefault
{{- if ne .Values.podAntiAffinity "none" }}
affinity:
  podAntiAffinity:
    {{- if eq .Values.podAntiAffinity "hard" }}
    requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "demo.selectorLabels" . | nindent 12 }}
    {{- else }}
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "demo.selectorLabels" . | nindent 14 }}
    {{- end }}
{{- end }}
containers:
  - name: app
    image: {{ printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) | quote }}
    imagePullPolicy: {{ .Values.image.pullPolicy }}
    env:
      - name: PORT
        value: {{ int .Values.app.port | toString | quote }}
      - name: POD_NAME
        valueFrom:
          fieldRef:
            fieldPath: metadata.name
      {{- if not (kindIs "invalid" .Values.app.keepAliveTimeoutMs) }}
      - name: KEEPALIVE_TIMEOUT_MS
        value: {{ int .Values.app.keepAliveTimeoutMs | toString | quote }}
      {{- end }}
      {{- with .Values.app.extraEnv }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    ports:
      - name: app
        containerPort: {{ int .Values.app.port }}
        protocol: TCP
    {{- /* Liveness straight to the app (readiness is lameduck's /readyz, which also asks the app). */}}
    livenessProbe:
      httpGet:
        path: /alive
        port: app
      periodSeconds: 10
      failureThreshold: 3
    {{- with .Values.app.lifecycle }}
    lifecycle:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    resources:
      {{- toYaml .Values.app.resources | nindent 6 }}
    securityContext:
      runAsUser: {{ int .Values.app.runAsUser }}
      runAsGroup: {{ int .Values.app.runAsUser }}
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
      capabilities:
        drop: ["ALL"]
{{- end -}}

