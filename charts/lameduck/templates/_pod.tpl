{{/*
lameduck.podSpec: the app's pod spec with lameduck added, as YAML. The one template most charts need:

  {{- $podSpec := include "myapp.podSpec" . | fromYaml }}
  ...
  template:
    spec:
      {{- include "lameduck.podSpec" (dict "Values" .Values.lameduck "root" $ "podSpec" $podSpec) | nindent 6 }}

What it does to the spec:
  - adds the sidecar once: to initContainers with restartPolicy Always (native) or to containers (classic);
  - gives the app container (appContainer, else the first) a preStop httpGet on the admin port's /prestop, which
    holds the app until the drain is done; an app that already has a preStop is refused unless existingPreStop=keep;
  - legacyApp: shareProcessNamespace: true;
  - automountServiceAccountToken: false unless the spec sets it or serviceAccount.automountForApp is true, and then
    a projected API token volume mounted into the sidecar alone: the app container gets no API credentials;
  - the preStop hook carries the /prestop token (X-Lameduck-Token, _token.tpl);
  - serviceAccount.create: serviceAccountName of the dedicated ServiceAccount;
  - terminationGracePeriodSeconds from lameduck.terminationGracePeriodSeconds when the spec does not set one.
It fails (helm template/install stops with the message) on anything it cannot do safely: a container already named
like the sidecar, a port name or number the sidecar needs already taken, a missing app container.
*/}}
{{- define "lameduck.podSpec" -}}
{{- include "lameduck.checkContext" . -}}
{{- $v := .Values -}}
{{- if not (kindIs "map" .podSpec) -}}
{{- fail "lameduck.podSpec: pass the app's pod spec as a dict, e.g. \"podSpec\" (include \"myapp.podSpec\" . | fromYaml)" -}}
{{- end -}}
{{- if hasKey .podSpec "Error" -}}
{{- fail (printf "lameduck.podSpec: the pod spec is not valid YAML (fromYaml: %s)" .podSpec.Error) -}}
{{- end -}}
{{- $spec := deepCopy .podSpec -}}
{{- $ctx := dict "Values" .Values "root" .root "podSpec" $spec "name" .name "library" .library -}}
{{- $containers := $spec.containers | default list -}}
{{- $inits := $spec.initContainers | default list -}}
{{- if not $containers -}}
{{- fail "lameduck.podSpec: the pod spec has no containers" -}}
{{- end -}}
{{- include "lameduck.checkPorts" $ctx -}}
{{- $appName := (include "lameduck.appContainer" $ctx | fromYaml).name -}}

{{- /* The app container's preStop hook: kubelet runs it at termination and waits for it (bounded only by the grace
period) before it sends the app SIGTERM; /prestop answers when the drain is done. A container has one preStop
handler, so an existing one is refused unless the chart says to keep it. */ -}}
{{- $newContainers := list -}}
{{- range $containers -}}
{{- $c := . -}}
{{- if eq $c.name $appName -}}
{{- $lifecycle := $c.lifecycle | default dict -}}
{{- if $lifecycle.preStop -}}
{{- if ne $v.existingPreStop "keep" -}}
{{- fail (printf "lameduck: container %q already has a lifecycle.preStop hook, and a container has only one. lameduck's preStop (httpGet /prestop on port %d) holds the app until the drain is done. Remove the app's hook, or set existingPreStop: keep and make that hook call http://127.0.0.1:%d/prestop before it returns, with the header X-Lameduck-Token from the Secret %s (without it a native sidecar whose API cannot tell refuses the fallback drain)" $c.name (int $v.ports.admin) (int $v.ports.admin) (include "lameduck.prestopTokenSecretName" $ctx)) -}}
{{- end -}}
{{- else -}}
{{- $header := dict "name" "X-Lameduck-Token" "value" (include "lameduck.prestopTokenValue" $ctx) -}}
{{- $_ := set $lifecycle "preStop" (dict "httpGet" (dict "path" "/prestop" "port" (int $v.ports.admin) "scheme" "HTTP" "httpHeaders" (list $header))) -}}
{{- end -}}
{{- $_ := set $c "lifecycle" $lifecycle -}}
{{- end -}}
{{- $newContainers = append $newContainers $c -}}
{{- end -}}

{{- /* Least privilege: the app gets no API credentials unless it asks; the sidecar gets its own projected token. */ -}}
{{- if and (not $v.serviceAccount.automountForApp) (not (hasKey $spec "automountServiceAccountToken")) -}}
{{- $_ := set $spec "automountServiceAccountToken" false -}}
{{- end -}}

{{- if eq $v.mode "native" -}}
{{- $_ := set $spec "initContainers" (append $inits (include "lameduck.nativeSidecar" $ctx | fromYaml)) -}}
{{- $_ := set $spec "containers" $newContainers -}}
{{- else -}}
{{- $_ := set $spec "containers" (append $newContainers (include "lameduck.container" $ctx | fromYaml)) -}}
{{- end -}}

{{- if $v.legacyApp.enabled -}}
{{- /* The pause container becomes PID 1; the app is then an ordinary process that SIGTERM ends (kind (b) -> (a)). */ -}}
{{- $_ := set $spec "shareProcessNamespace" true -}}
{{- end -}}

{{- if eq (include "lameduck.projectToken" $ctx) "true" -}}
{{- $_ := set $spec "volumes" (append ($spec.volumes | default list) (include "lameduck.tokenVolume" $ctx | fromYaml)) -}}
{{- end -}}

{{- if $v.serviceAccount.create -}}
{{- $sa := include "lameduck.serviceAccountName" $ctx -}}
{{- if and $spec.serviceAccountName (ne $spec.serviceAccountName $sa) -}}
{{- fail (printf "lameduck: serviceAccount.create would replace the pod's ServiceAccount %q with %q (a pod has one; the app would lose what its own grants, e.g. IRSA or Workload Identity). Keep serviceAccount.create=false to bind the Role to %q" $spec.serviceAccountName $sa $spec.serviceAccountName) -}}
{{- end -}}
{{- $_ := set $spec "serviceAccountName" $sa -}}
{{- end -}}

{{- if not (hasKey $spec "terminationGracePeriodSeconds") -}}
{{- $_ := set $spec "terminationGracePeriodSeconds" (include "lameduck.terminationGracePeriodSeconds" $ctx | int) -}}
{{- end -}}
{{- toYaml $spec -}}
{{- end -}}

{{/* The app container (a mapping): appContainer by name, else the pod's first container. */}}
{{- define "lameduck.appContainer" -}}
{{- $v := .Values -}}
{{- $containers := (.podSpec | default dict).containers | default list -}}
{{- $found := dict -}}
{{- if $v.appContainer -}}
{{- range $containers -}}
{{- if eq .name $v.appContainer -}}
{{- $found = . -}}
{{- end -}}
{{- end -}}
{{- if not $found -}}
{{- fail (printf "lameduck: appContainer %q is not among the pod's containers" $v.appContainer) -}}
{{- end -}}
{{- else if $containers -}}
{{- $found = first $containers -}}
{{- end -}}
{{- toYaml $found -}}
{{- end -}}

{{/*
The sidecar shares the pod's network namespace and name space for ports: refuse what would clash at run time.
*/}}
{{- define "lameduck.checkPorts" -}}
{{- $v := .Values -}}
{{- $spec := .podSpec -}}
{{- $traffic := int $v.ports.traffic -}}
{{- $admin := int $v.ports.admin -}}
{{- if eq $traffic $admin -}}
{{- fail (printf "lameduck: ports.traffic and ports.admin are both %d" $traffic) -}}
{{- end -}}
{{- if eq $v.ports.trafficName $v.ports.adminName -}}
{{- fail (printf "lameduck: ports.trafficName and ports.adminName are both %q" $v.ports.trafficName) -}}
{{- end -}}
{{- if or (eq (int $v.appPort) $traffic) (eq (int $v.appPort) $admin) -}}
{{- fail (printf "lameduck: appPort %d clashes with a lameduck port (traffic %d, admin %d); containers of a pod share one network namespace" (int $v.appPort) $traffic $admin) -}}
{{- end -}}
{{- range concat ($spec.initContainers | default list) ($spec.containers | default list) -}}
{{- $c := . -}}
{{- if eq $c.name $v.containerName -}}
{{- fail (printf "lameduck: the pod already has a container named %q; lameduck adds its sidecar itself (include lameduck.podSpec once, or set containerName)" $c.name) -}}
{{- end -}}
{{- range $c.ports | default list -}}
{{- if or (eq (toString .name) $v.ports.trafficName) (eq (toString .name) $v.ports.adminName) -}}
{{- fail (printf "lameduck: container %q already has a port named %q; set lameduck ports.trafficName/ports.adminName to other names" $c.name .name) -}}
{{- end -}}
{{- if or (eq (int .containerPort) $traffic) (eq (int .containerPort) $admin) -}}
{{- fail (printf "lameduck: container %q already uses port %d; set lameduck ports.traffic/ports.admin to free ports" $c.name (int .containerPort)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The pod's effective automountServiceAccountToken: the spec's, else what lameduck.podSpec sets. */}}
{{- define "lameduck.automount" -}}
{{- $spec := .podSpec | default dict -}}
{{- if hasKey $spec "automountServiceAccountToken" -}}
{{- toString $spec.automountServiceAccountToken -}}
{{- else -}}
{{- toString .Values.serviceAccount.automountForApp -}}
{{- end -}}
{{- end -}}

{{/* "true" when the sidecar gets its own projected API token (the pod does not mount one). */}}
{{- define "lameduck.projectToken" -}}
{{- $mode := .Values.serviceAccount.projectToken -}}
{{- $spec := .podSpec | default dict -}}
{{- if eq $mode "always" -}}
true
{{- else if and (eq $mode "auto") (eq (include "lameduck.automount" .) "false") -}}
true
{{- else -}}
false
{{- end -}}
{{- end -}}

{{- define "lameduck.tokenVolumeName" -}}
{{- printf "%s-kube-api-access" .Values.containerName | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The same three files kubelet's automount provides (token, ca.crt, namespace), for the sidecar alone: a pod that opts
out of the automounted token keeps the app without API credentials.
*/}}
{{- define "lameduck.tokenVolume" -}}
name: {{ include "lameduck.tokenVolumeName" . }}
projected:
  defaultMode: 292 {{- /* 0444 */}}
  sources:
    - serviceAccountToken:
        path: token
        expirationSeconds: {{ int .Values.serviceAccount.tokenExpirationSeconds }}
    - configMap:
        name: kube-root-ca.crt
        items:
          - key: ca.crt
            path: ca.crt
    - downwardAPI:
        items:
          - path: namespace
            fieldRef:
              apiVersion: v1
              fieldPath: metadata.namespace
{{- end -}}

{{/*
lameduck.podAnnotations: annotations for annotation-based Prometheus scraping of the admin port (a mapping, possibly
empty). Usage: annotations: {{- include "lameduck.podAnnotations" $ctx | nindent 8 }}
*/}}
{{- define "lameduck.podAnnotations" -}}
{{- include "lameduck.checkContext" . -}}
{{- if .Values.podAnnotations.prometheusScrape -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ int .Values.ports.admin | toString | quote }}
prometheus.io/path: /metrics
{{- end -}}
{{- end -}}
