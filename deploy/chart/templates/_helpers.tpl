{{/* Name of the release's objects: <release>-atrium, or the release name when it already says atrium. */}}
{{- define "atrium.fullname" -}}
{{- if contains "atrium" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-atrium" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "atrium.labels" -}}
app.kubernetes.io/name: atrium
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/component: {{ .role }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "atrium.selectorLabels" -}}
app.kubernetes.io/name: atrium
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .role }}
{{- end -}}

{{/* The image reference: digest wins over tag; tag defaults to appVersion; latest is refused. */}}
{{- define "atrium.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if eq $tag "latest" -}}{{- fail "image.tag must not be latest: pin a version or a digest" -}}{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "atrium.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "atrium.fullname" .)) -}}
{{- end -}}

{{/* Pod-level settings every role shares. */}}
{{- define "atrium.podCommon" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
automountServiceAccountToken: false
{{- end -}}

{{/* The secrets volume: every key of the Secret as a file under /etc/atrium/secrets. */}}
{{- define "atrium.secretVolume" -}}
- name: secrets
  secret:
    secretName: {{ include "atrium.secretName" . }}
    defaultMode: 0440
{{- end -}}

{{- define "atrium.secretMount" -}}
- name: secrets
  mountPath: /etc/atrium/secrets
  readOnly: true
{{- end -}}

{{/* HOST_IP from the downward API, for the roles on host networking. */}}
{{- define "atrium.hostIPEnv" -}}
- name: HOST_IP
  valueFrom:
    fieldRef:
      fieldPath: status.hostIP
{{- end -}}

{{/* ATRIUM_* variables from a map, sorted. */}}
{{- define "atrium.extraEnv" -}}
{{- range $k, $v := . }}
- name: {{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- end -}}

{{/* Error reporting and tracing (pkg/telemetry), the same variables for every role; off
unless telemetry.* is set. */}}
{{- define "atrium.telemetryEnv" -}}
{{- $t := .Values.telemetry }}
{{- if $t.sentryDSNInSecret }}
- name: ATRIUM_SENTRY_DSN_FILE
  value: /etc/atrium/secrets/sentry-dsn
{{- end }}
{{- with $t.sentryEnvironment }}
- name: ATRIUM_SENTRY_ENVIRONMENT
  value: {{ . | quote }}
{{- end }}
{{- with $t.otlpEndpoint }}
- name: ATRIUM_TRACING_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* The control plane's environment, shared by its Deployment and the migrations Job. */}}
{{- define "atrium.controlplaneEnv" -}}
- name: ATRIUM_HTTP_ADDR
  value: {{ printf "0.0.0.0:%v" .Values.controlplane.httpPort | quote }}
- name: ATRIUM_HTTP_PUBLIC_URL
  value: {{ .Values.controlplane.publicURL | quote }}
- name: ATRIUM_DATABASE_URL_FILE
  value: /etc/atrium/secrets/database-url
- name: ATRIUM_REDIS_ADDR
  value: {{ .Values.redis.addr | quote }}
- name: ATRIUM_REDIS_DB
  value: {{ .Values.redis.db | quote }}
{{- if .Values.redis.passwordInSecret }}
- name: ATRIUM_REDIS_PASSWORD_FILE
  value: /etc/atrium/secrets/redis-password
{{- end }}
- name: ATRIUM_AUTH_JWT_SECRET_FILE
  value: /etc/atrium/secrets/jwt-secret
- name: ATRIUM_AUTH_TOTP_KEY_FILE
  value: /etc/atrium/secrets/totp-key
- name: ATRIUM_LIVEKIT_API_KEY
  value: {{ .Values.livekit.apiKey | quote }}
- name: ATRIUM_LIVEKIT_API_SECRET_FILE
  value: /etc/atrium/secrets/livekit-api-secret
- name: ATRIUM_LIVEKIT_URL
  value: {{ .Values.livekit.url | quote }}
- name: ATRIUM_MONEY_STRIPE_SECRET_KEY_FILE
  value: /etc/atrium/secrets/stripe-secret-key
- name: ATRIUM_MONEY_STRIPE_WEBHOOK_SECRET_FILE
  value: /etc/atrium/secrets/stripe-webhook-secret
{{- if .Values.turn.enabled }}
- name: ATRIUM_TURN_URLS
  value: {{ join "," .Values.turn.urls | quote }}
- name: ATRIUM_TURN_SECRET_FILE
  value: /etc/atrium/secrets/turn-secret
{{- end }}
{{- end -}}

{{/* Gossip and placement variables of a cluster member (SFU or gateway): prefix is its
     variable prefix, host the address others reach it at. */}}
{{- define "atrium.clusterEnv" -}}
{{- $v := .root.Values -}}
{{- if $v.cluster.enabled }}
- name: {{ .prefix }}_CLUSTER_ENABLED
  value: "true"
- name: {{ .prefix }}_CLUSTER_BIND_ADDR
  value: {{ printf ":%v" $v.cluster.gossipPort | quote }}
- name: {{ .prefix }}_CLUSTER_ADVERTISE_ADDR
  value: {{ printf "%s:%v" .host $v.cluster.gossipPort | quote }}
- name: {{ .prefix }}_CLUSTER_SEED_DNS
  value: {{ printf "%s-gossip.%s.svc.cluster.local" (include "atrium.fullname" .root) .root.Release.Namespace | quote }}
- name: {{ .prefix }}_CLUSTER_SEED_PORT
  value: {{ $v.cluster.gossipPort | quote }}
- name: {{ .prefix }}_CLUSTER_PRESET
  value: {{ $v.cluster.preset | quote }}
- name: {{ .prefix }}_CLUSTER_SECRET_KEY_FILE
  value: /etc/atrium/secrets/cluster-secret-key
- name: {{ .prefix }}_PLACEMENT_REDIS_ADDR
  value: {{ $v.redis.addr | quote }}
- name: {{ .prefix }}_PLACEMENT_REDIS_DB
  value: {{ $v.redis.db | quote }}
{{- if $v.redis.passwordInSecret }}
- name: {{ .prefix }}_PLACEMENT_REDIS_PASSWORD_FILE
  value: /etc/atrium/secrets/redis-password
{{- end }}
- name: {{ .prefix }}_PLACEMENT_KEY_PREFIX
  value: {{ $v.cluster.keyPrefix | quote }}
- name: {{ .prefix }}_PLACEMENT_LEASE_TTL
  value: {{ $v.cluster.leaseTTL | quote }}
- name: {{ .prefix }}_PLACEMENT_FALLBACK_LOCAL
  value: {{ $v.cluster.fallbackLocal | quote }}
{{- end }}
{{- end -}}
