{{- define "berth.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "berth.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "berth.selectorLabels" -}}
app.kubernetes.io/name: {{ include "berth.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "berth.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "berth.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* singleNode: SQLite on a volume, exactly one replica. */}}
{{- define "berth.singleNode" -}}
{{- if not .Values.database.existingSecret }}true{{ end }}
{{- end }}

{{- define "berth.adminSecret" -}}
{{- if .Values.admin.existingSecret }}{{ .Values.admin.existingSecret }}{{ else }}{{ include "berth.fullname" . }}-admin{{ end }}
{{- end }}

{{- define "berth.claimName" -}}
{{- if .Values.persistence.existingClaim }}{{ .Values.persistence.existingClaim }}{{ else }}{{ include "berth.fullname" . }}-data{{ end }}
{{- end }}

{{- define "berth.validate" -}}
{{- if and (not (include "berth.singleNode" .)) (not .Values.storage.url) }}
{{- fail "database.existingSecret (PostgreSQL) needs storage.url (S3): nodes share no volume" }}
{{- end }}
{{- if and (include "berth.singleNode" .) (gt (int .Values.replicaCount) 1) }}
{{- fail "replicaCount > 1 needs database.existingSecret (PostgreSQL) and storage.url (S3)" }}
{{- end }}
{{- if and .Values.storage.url (hasPrefix "s3://" .Values.storage.url) (not .Values.storage.existingSecret) }}
{{- fail "storage.url is S3: set storage.existingSecret with the access and secret keys" }}
{{- end }}
{{- end }}
