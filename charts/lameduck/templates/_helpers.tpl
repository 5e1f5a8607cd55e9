{{/*
Shared helpers of the lameduck library chart.

Every public template takes one dict, the "context":
  Values   the lameduck settings block, normally `.Values.lameduck` (Helm has merged this chart's values.yaml into it
           and checked it against values.schema.json when the dependency is named `lameduck`)
  root     the including chart's top-level context (`$`): Release, Chart, Capabilities, Subcharts
  podSpec  the app's pod spec as a dict (lameduck.podSpec, and lameduck.resources for the ServiceAccount name)
  name     optional base name of the rendered RBAC/monitoring objects; default `<release>-lameduck`
  library  optional name (or alias) under which this chart is a dependency; default `lameduck`
*/}}

{{/* Fails early with a usable message when a template is included with the wrong argument. */}}
{{- define "lameduck.checkContext" -}}
{{- if not (kindIs "map" .) -}}
{{- fail "lameduck: include the lameduck templates with a dict, e.g. (dict \"Values\" .Values.lameduck \"root\" $ \"podSpec\" $podSpec)" -}}
{{- end -}}
{{- if not .root -}}
{{- fail "lameduck: the context dict needs \"root\" $ (the including chart's top-level context)" -}}
{{- end -}}
{{- if or (not (kindIs "map" .Values)) (not (hasKey .Values "ports")) (not (hasKey .Values "image")) -}}
{{- fail "lameduck: the context dict needs \"Values\" with the lameduck settings (normally .Values.lameduck, with the library chart listed as a dependency named lameduck so that Helm merges its defaults)" -}}
{{- end -}}
{{- end -}}

{{/* Base name of the RBAC and monitoring objects. */}}
{{- define "lameduck.name" -}}
{{- .name | default (printf "%s-lameduck" .root.Release.Name) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "lameduck.labels" -}}
app.kubernetes.io/name: lameduck
app.kubernetes.io/instance: {{ .root.Release.Name | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service | quote }}
app.kubernetes.io/component: graceful-shutdown
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" | quote }}
{{- end -}}

{{/* The library chart's own context (Files, Chart) via .Subcharts, for the dashboard file and the default tag. */}}
{{- define "lameduck.libraryChart" -}}
{{- $lib := .library | default "lameduck" -}}
{{- $subcharts := .root.Subcharts | default dict -}}
{{- if not (hasKey $subcharts $lib) -}}
{{- fail (printf "lameduck: no dependency named %q in chart %s; list the lameduck library chart under dependencies (or pass \"library\" with its alias)" $lib .root.Chart.Name) -}}
{{- end -}}
{{- $lib -}}
{{- end -}}

{{- define "lameduck.image" -}}
{{- $img := .Values.image -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- $tag := $img.tag -}}
{{- if not $tag -}}
{{- $tag = (index .root.Subcharts (include "lameduck.libraryChart" .)).Chart.AppVersion -}}
{{- end -}}
{{- printf "%s:%s" $img.repository $tag -}}
{{- end -}}
{{- end -}}

{{/*
A Go duration ("500ms", "2s", "1m30s", "1.5h") in seconds, as a float. The schema allows only these units.
*/}}
{{- define "lameduck.seconds" -}}
{{- $total := 0.0 -}}
{{- $units := dict "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0 -}}
{{- range regexFindAll "[0-9]*\\.?[0-9]+(ms|s|m|h)" (toString .) -1 -}}
{{- $unit := regexFind "(ms|s|m|h)$" . -}}
{{- $number := trimSuffix $unit . | float64 -}}
{{- $total = addf $total (mulf $number (get $units $unit)) -}}
{{- end -}}
{{- $total -}}
{{- end -}}

{{/*
LAMEDUCK_SETTLE: the explicit value, else the preset for the environment. Why these presets: kube-proxy resyncs its
rules within about a second of an EndpointSlice change (minSyncPeriod defaults to 1s); ingress controllers that
balance over endpoints (ingress-nginx's Lua balancer, Traefik, Contour/Envoy EDS) pick the change up within a few
seconds; cloud load balancers that target pod IPs (AWS Load Balancer Controller IP mode, GKE NEGs) deregister through
the cloud API and keep opening new connections for tens of seconds. Measure yours: lameduck_requests_total{phase=
"settling"} shows whether traffic still arrives at the end of settle.
*/}}
{{- define "lameduck.settle" -}}
{{- $presets := dict "kube-proxy" "2s" "ingress" "5s" "cloud-lb" "20s" -}}
{{- if .Values.settle -}}
{{- .Values.settle -}}
{{- else if hasKey $presets .Values.environment -}}
{{- get $presets .Values.environment -}}
{{- else -}}
{{- fail (printf "lameduck: environment %q needs an explicit settle duration (e.g. settle: 10s)" (toString .Values.environment)) -}}
{{- end -}}
{{- end -}}
