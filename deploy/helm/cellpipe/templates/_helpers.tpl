{{/* Names and labels shared by every object of the chart. */}}
{{- define "cellpipe.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "cellpipe.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cellpipe.labels" -}}
{{ include "cellpipe.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "cellpipe.serviceAccountName" -}}
{{- default (include "cellpipe.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The namespace of jobs of users in no team (and of every job without namespacePerTeam). */}}
{{- define "cellpipe.taskNamespace" -}}
{{- default .Release.Namespace .Values.executor.namespace -}}
{{- end -}}

{{/* Every namespace task Jobs may live in, one per line: the task namespace and, per team, its own. */}}
{{- define "cellpipe.taskNamespaces" -}}
{{- $namespaces := list (include "cellpipe.taskNamespace" .) -}}
{{- if .Values.executor.namespacePerTeam -}}
{{- range $team, $spec := .Values.teams -}}
{{- $namespaces = append $namespaces (default (printf "cellpipe-%s" $team) $spec.namespace) -}}
{{- end -}}
{{- end -}}
{{- uniq $namespaces | join "\n" -}}
{{- end -}}

{{/* The service prefix without its trailing slash: /services/<serviceName> under the Hub's base URL. */}}
{{- define "cellpipe.basePath" -}}
{{- printf "%sservices/%s" .Values.jupyterhub.baseUrl .Values.jupyterhub.serviceName -}}
{{- end -}}

{{- define "cellpipe.homeClaim" -}}
{{- default (printf "%s-home" (include "cellpipe.fullname" .)) .Values.persistence.home.existingClaim -}}
{{- end -}}

{{- define "cellpipe.jobsClaim" -}}
{{- default (printf "%s-jobs" (include "cellpipe.fullname" .)) .Values.persistence.jobs.existingClaim -}}
{{- end -}}

{{/* The server's configuration file (cellpipe serve --config): the chart's settings, then .Values.config. */}}
{{- define "cellpipe.config" -}}
{{- $kubernetes := dict
  "namespace" (include "cellpipe.taskNamespace" .)
  "namespacePerTeam" .Values.executor.namespacePerTeam
  "inventoryScope" .Values.executor.inventoryScope
  "dataStore" .Values.executor.dataStore
  "nodeSelector" .Values.executor.nodeSelector
  "tolerations" .Values.executor.tolerations -}}
{{- if eq .Values.executor.dataStore "volume" }}
{{- $_ := set $kubernetes "dataVolume" (dict "claimName" (include "cellpipe.jobsClaim" .) "mountPath" .Values.persistence.jobs.mountPath) }}
{{- else }}
{{- /* Task pods reach the server at its Service, under the service prefix. */ -}}
{{- $_ := set $kubernetes "serverUrl" (printf "http://%s.%s.svc:%d%s" (include "cellpipe.fullname" .) .Release.Namespace (int .Values.service.port) (include "cellpipe.basePath" .)) }}
{{- end -}}
{{- with .Values.executor.defaultImage }}{{ $_ := set $kubernetes "defaultImage" . }}{{ end -}}
{{- with .Values.executor.queueName }}{{ $_ := set $kubernetes "queueName" . }}{{ end -}}
{{- with .Values.executor.teamQueues }}{{ $_ := set $kubernetes "teamQueues" . }}{{ end -}}
{{- with .Values.executor.userQueues }}{{ $_ := set $kubernetes "userQueues" . }}{{ end -}}
{{- $config := dict
  "auth" "jupyterhub"
  "homeToken" false
  "host" "0.0.0.0"
  "port" (int .Values.service.port)
  "home" "/var/lib/cellpipe"
  "executor" "kubernetes"
  "kubernetes" $kubernetes
  "jupyterhub" (dict
    "apiUrl" .Values.jupyterhub.apiUrl
    "serviceName" .Values.jupyterhub.serviceName
    "baseUrl" .Values.jupyterhub.baseUrl
    "host" .Values.jupyterhub.host
    "cacheSeconds" (int .Values.jupyterhub.cacheSeconds))
  "basePath" (printf "%s/" (include "cellpipe.basePath" .))
  "teams" .Values.teams
  "inventoryHolders" .Values.inventoryHolders
  "auditRetentionDays" (int .Values.auditRetentionDays) -}}
{{- if eq .Values.executor.dataStore "volume" }}{{ $_ := set $config "jobsDir" .Values.persistence.jobs.mountPath }}{{ end -}}
{{- toYaml (mergeOverwrite $config (deepCopy .Values.config)) -}}
{{- end -}}
