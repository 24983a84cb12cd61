{{/*
The labels of every object: those `vipd manifest` prints, with Helm's as the manager.
*/}}
{{- define "vipd.labels" -}}
app.kubernetes.io/name: vipd
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/*
What the DaemonSet selects on: stable across versions and releases, as `vipd manifest`'s, because a
selector cannot change.
*/}}
{{- define "vipd.selectorLabels" -}}
app.kubernetes.io/name: vipd
app.kubernetes.io/component: agent
{{- end -}}

{{/*
A duration as the agent reads it (src/config/duration.ts: Go's units, "1m30s", "1500ms") in
milliseconds.
*/}}
{{- define "vipd.milliseconds" -}}
{{- $total := 0.0 -}}
{{- range regexFindAll "[0-9]+(\\.[0-9]+)?(ms|s|m|h)" (toString .) -1 -}}
{{- $amount := regexFind "^[0-9]+(\\.[0-9]+)?" . | float64 -}}
{{- $unit := regexReplaceAll "^[0-9.]+" . "" -}}
{{- $total = addf $total (mulf $amount (get (dict "ms" 1.0 "s" 1000.0 "m" 60000.0 "h" 3600000.0) $unit)) -}}
{{- end -}}
{{- $total -}}
{{- end -}}

{{/*
terminationGraceSeconds of src/manifest/daemonset.ts: the request deadline of 10 s, R − P of the
heartbeat's delete and one more P, never below Kubernetes' 30 s.
*/}}
{{- define "vipd.terminationGraceSeconds" -}}
{{- $renewDeadline := include "vipd.milliseconds" (index .Values.agent "renew-deadline") | float64 -}}
{{- max 30 (divf (addf 10000 $renewDeadline) 1000 | ceil | int) -}}
{{- end -}}
