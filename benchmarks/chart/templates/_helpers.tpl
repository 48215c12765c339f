{{/*
Helpers that mirror k8sq_render/_naming.py and _render.plan as closely as Helm allows.
Differences (hash text, key order, JSON escaping) are listed in benchmarks/README.md.
*/}}

{{/* A short digest of length-prefixed parts: 8 hex characters of sha256. */}}
{{- define "k8sq.hash" -}}
{{- $joined := "" -}}
{{- range . -}}{{- $joined = printf "%s%d:%s;" $joined (len .) . -}}{{- end -}}
{{- sha256sum $joined | trunc 8 -}}
{{- end -}}

{{/* Lowercase DNS-1123 characters only, '-' between runs, none at the ends. */}}
{{- define "k8sq.dnsPart" -}}
{{- regexReplaceAll "[^a-z0-9]+" (lower .) "-" | trimAll "-" -}}
{{- end -}}

{{/* Job name <queue>-<id (20 at most)>-<hash>, a DNS-1123 label of at most 63 characters. */}}
{{- define "k8sq.jobName" -}}
{{- $digest := include "k8sq.hash" (list .queue .id "1") -}}
{{- $tail := printf "-%s" $digest -}}
{{- $room := sub 63 (len $tail) -}}
{{- $msg := regexReplaceAll "-+$" (trunc 20 (include "k8sq.dnsPart" .id)) "" -}}
{{- $head := regexReplaceAll "-+$" (trunc (int (sub (sub $room (len $msg)) 1)) (include "k8sq.dnsPart" .queue)) "" -}}
{{- $stem := list $head $msg | compact | join "-" -}}
{{- if $stem -}}{{ $stem }}{{ $tail }}{{- else -}}{{ $digest }}{{- end -}}
{{- end -}}

{{/* The queue name as a label value: unchanged when valid, else sanitised plus a hash. */}}
{{- define "k8sq.labelValue" -}}
{{- if and (le (len .) 63) (regexMatch "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$" .) -}}
{{- . -}}
{{- else -}}
{{- $digest := include "k8sq.hash" (list .) -}}
{{- $clean := trunc 54 (regexReplaceAll "[^A-Za-z0-9_.-]+" . "-") | trimAll "-_." -}}
{{- if $clean -}}{{ $clean }}-{{ $digest }}{{- else -}}{{ $digest }}{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Checks k8sq-render makes beyond the JSON Schema, once per render: exactly one of
message/messages, no reserved env name, label or annotation key.
*/}}
{{- define "k8sq.checkQueue" -}}
{{- if eq (hasKey . "message") (hasKey . "messages") -}}
{{- fail "give exactly one of 'message' or 'messages'" -}}
{{- end -}}
{{- if hasKey (.queue.env | default dict) "K8SQ_MESSAGE" -}}
{{- fail "/queue/env/K8SQ_MESSAGE: this name is reserved for the message envelope" -}}
{{- end -}}
{{- range $field := list "labels" "annotations" -}}
{{- range $key, $_ := (get $.queue $field | default dict) -}}
{{- if or (hasPrefix "k8sq.io/" $key) (eq $key "app.kubernetes.io/managed-by") -}}
{{- fail (printf "/queue/%s/%s: this key is set by k8sq-render itself" $field $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
One Job. Argument: dict "root" .Values "message" <message> "where" <pointer>.
Every value is written with toJson, so any text stays one YAML value.
*/}}
{{- define "k8sq.job" -}}
{{- $v := .root -}}
{{- $q := $v.queue -}}
{{- $m := .message -}}
{{- $id := $m.id -}}
{{- if not $id -}}
{{- $id = sha256sum (toJson (dict "payload" ($m.payload | default dict) "priority" $m.priority "timestamp" $m.timestamp)) | trunc 16 -}}
{{- end -}}
{{- $classes := $q.priorityClasses | default dict -}}
{{- if and $m.priority (not (hasKey $classes $m.priority)) -}}
{{- fail (printf "%s/priority: unknown priority %q" .where $m.priority) -}}
{{- end -}}
{{- $envelope := printf "{\"v\":1,\"id\":%s,\"queue\":%s,\"timestamp\":%s,\"attempt\":1,\"payload\":%s}" (toJson $id) (toJson $q.name) (toJson $m.timestamp) (toJson ($m.payload | default dict)) -}}
{{- if gt (len $envelope) 131071 -}}
{{- fail (printf "%s: the message envelope is %d bytes, over the 131071 bytes Linux allows" .where (len $envelope)) -}}
{{- end -}}
{{- $labels := dict "app.kubernetes.io/managed-by" "k8sq-render" "k8sq.io/queue" (include "k8sq.labelValue" $q.name) "k8sq.io/template-version" $v.version -}}
{{- $labels = merge $labels ($q.labels | default dict) -}}
apiVersion: "batch/v1"
kind: "Job"
metadata:
  name: {{ include "k8sq.jobName" (dict "queue" $q.name "id" $id) | toJson }}
  namespace: {{ toJson $q.namespace }}
  labels:
{{- range $key, $value := $labels }}
    {{ $key }}: {{ toJson $value }}
{{- end }}
  annotations:
    k8sq.io/queue-name: {{ toJson $q.name }}
    k8sq.io/message-id: {{ toJson $id }}
    k8sq.io/template-version: {{ toJson $v.version }}
    k8sq.io/attempt: "1"
{{- if not (kindIs "invalid" $m.timestamp) }}
    k8sq.io/timestamp: {{ printf "%d" (int64 $m.timestamp) | toJson }}
{{- end }}
{{- if $m.priority }}
    k8sq.io/priority: {{ toJson $m.priority }}
{{- end }}
{{- range $key, $value := ($q.annotations | default dict) }}
    {{ $key }}: {{ toJson $value }}
{{- end }}
spec:
  backoffLimit: {{ int64 $q.backoffLimit }}
{{- if hasKey $q "ttlSecondsAfterFinished" }}
  ttlSecondsAfterFinished: {{ int64 $q.ttlSecondsAfterFinished }}
{{- end }}
{{- if hasKey $q "activeDeadlineSeconds" }}
  activeDeadlineSeconds: {{ int64 $q.activeDeadlineSeconds }}
{{- end }}
  template:
    metadata:
      labels:
{{- range $key, $value := $labels }}
        {{ $key }}: {{ toJson $value }}
{{- end }}
{{- with $q.annotations }}
      annotations:
{{- range $key, $value := . }}
        {{ $key }}: {{ toJson $value }}
{{- end }}
{{- end }}
    spec:
      restartPolicy: "Never"
{{- with $q.serviceAccountName }}
      serviceAccountName: {{ toJson . }}
{{- end }}
{{- if $m.priority }}
      priorityClassName: {{ get $classes $m.priority | toJson }}
{{- end }}
{{- with $q.nodeSelector }}
      nodeSelector: {{ toJson . }}
{{- end }}
{{- with $q.tolerations }}
      tolerations: {{ toJson . }}
{{- end }}
      containers:
        - name: "worker"
          image: {{ toJson $q.image }}
{{- with $q.imagePullPolicy }}
          imagePullPolicy: {{ toJson . }}
{{- end }}
{{- if hasKey $q "command" }}
          command:
{{- range $q.command }}
            - {{ replace "$" "$$" . | toJson }}
{{- end }}
{{- end }}
{{- if hasKey $q "args" }}
          args:
{{- range $q.args }}
            - {{ replace "$" "$$" . | toJson }}
{{- end }}
{{- end }}
          env:
{{- range $name, $value := ($q.env | default dict) }}
            - name: {{ toJson $name }}
              value: {{ replace "$" "$$" $value | toJson }}
{{- end }}
            - name: "K8SQ_MESSAGE"
              value: {{ replace "$" "$$" $envelope | toJson }}
{{- with $q.resources }}
          resources: {{ toJson . }}
{{- end }}
{{- end -}}
