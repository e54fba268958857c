{{/* Shared names, labels and the per-service Deployment / Service / PodDisruptionBudget templates. */}}

{{/* Chart name, overridable with nameOverride. */}}
{{- define "gouji.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name; the component suffix is added by gouji.componentName. */}}
{{- define "gouji.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Chart name and version for the helm.sh/chart label. */}}
{{- define "gouji.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Standard labels for resources that belong to the whole release. */}}
{{- define "gouji.labels" -}}
helm.sh/chart: {{ include "gouji.chart" . }}
{{ include "gouji.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: gouji
{{- end }}

{{/* Selector labels for the release. */}}
{{- define "gouji.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gouji.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Component helpers take (dict "root" $ "component" "validation"). */}}

{{/* Resource name of one service, e.g. "gouji-validation". */}}
{{- define "gouji.componentName" -}}
{{- printf "%s-%s" (include "gouji.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Standard labels plus the component label. */}}
{{- define "gouji.componentLabels" -}}
{{ include "gouji.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Selector labels of one service's pods. */}}
{{- define "gouji.componentSelectorLabels" -}}
{{ include "gouji.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Fully qualified gRPC service name registered with grpc.health.v1, e.g. gouji.validation.v1.ValidationService. */}}
{{- define "gouji.grpcServiceName" -}}
{{- printf "gouji.%s.v1.%sService" .component (title .component) }}
{{- end }}

{{/* In-cluster URL of one service, e.g. https://gouji-validation.default.svc:50051 (TLS on every port). */}}
{{- define "gouji.grpcUrl" -}}
{{- $v := index .root.Values .component }}
{{- printf "https://%s.%s.svc:%v" (include "gouji.componentName" .) .root.Release.Namespace $v.port }}
{{- end }}

{{/* Secret with the TLS certificate, key and CA. */}}
{{- define "gouji.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "gouji.fullname" .)) .Values.security.tls.secretName }}
{{- end }}

{{/* Secret with the bearer-token public key. */}}
{{- define "gouji.tokenSecretName" -}}
{{- default (printf "%s-token" (include "gouji.fullname" .)) .Values.security.tokens.publicKeySecret }}
{{- end }}

{{/* Refuses to render development mode, however it is asked for. */}}
{{- define "gouji.refuseDevMode" -}}
{{- $root := .root }}
{{- $v := index $root.Values .component }}
{{- if $root.Values.security.devInsecure }}
{{- fail "security.devInsecure: development mode (no TLS, no authentication) is loopback-only and never deployed by this chart" }}
{{- end }}
{{- range (concat (default (list) .args) (default (list) $v.extraArgs)) }}
{{- if contains "dev-insecure" (toString .) }}
{{- fail (printf "%s: --dev-insecure is never deployed by this chart" $.component) }}
{{- end }}
{{- end }}
{{- range (default (list) $v.extraEnv) }}
{{- if eq (toString .name) "GOUJI_DEV_INSECURE" }}
{{- fail (printf "%s: GOUJI_DEV_INSECURE is never deployed by this chart" $.component) }}
{{- end }}
{{- end }}
{{- end }}

{{/* Container image of one service, falling back to the global image and the chart appVersion. */}}
{{- define "gouji.image" -}}
{{- $v := index .root.Values .component }}
{{- $img := default (dict) $v.image }}
{{- $repo := default .root.Values.image.repository $img.repository }}
{{- $tag := default (default .root.Chart.AppVersion .root.Values.image.tag) $img.tag }}
{{- printf "%s:%s" $repo $tag }}
{{- end }}

{{/* ServiceAccount used by the pods. */}}
{{- define "gouji.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gouji.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Secret that holds the ingestion database URL. */}}
{{- define "gouji.databaseSecretName" -}}
{{- if .Values.database.existingSecret }}
{{- .Values.database.existingSecret }}
{{- else }}
{{- printf "%s-database" (include "gouji.fullname" .) }}
{{- end }}
{{- end }}

{{/*
Deployment of one service. Takes (dict "root" $ "component" "ingestion" "args" (list ...) "env" (list ...)
"volumes" (list ...) "volumeMounts" (list ...) "annotations" (dict ...) "livenessService" "liveness");
everything but root and component is optional. No secret is ever put into args: secrets come in env
(valueFrom) or mounted files.
*/}}
{{- define "gouji.deployment" -}}
{{- include "gouji.refuseDevMode" . }}
{{- $root := .root }}
{{- $c := .component }}
{{- $v := index $root.Values $c }}
{{- $port := int $v.port }}
{{- $grpcService := include "gouji.grpcServiceName" . }}
{{- $env := list (dict "name" "RUST_LOG" "value" (toString $root.Values.logLevel)) }}
{{- $env = append $env (dict "name" "OTEL_SERVICE_NAME" "value" (printf "gouji-%s" $c)) }}
{{- with $root.Values.otel.endpoint }}
{{- $env = append $env (dict "name" "OTEL_EXPORTER_OTLP_ENDPOINT" "value" (toString .)) }}
{{- end }}
{{- if $root.Values.otel.endpoint }}
{{- $env = append $env (dict "name" "OTEL_METRIC_EXPORT_INTERVAL" "value" (toString $root.Values.otel.metricExportIntervalMs)) }}
{{- end }}
{{- $sec := $root.Values.security }}
{{- $env = concat $env (list
  (dict "name" "GOUJI_TLS_CERT" "value" "/etc/gouji/tls/tls.crt")
  (dict "name" "GOUJI_TLS_KEY" "value" "/etc/gouji/tls/tls.key")
  (dict "name" "GOUJI_TLS_CLIENT_CA" "value" "/etc/gouji/tls/ca.crt")
  (dict "name" "GOUJI_TLS_CA" "value" "/etc/gouji/tls/ca.crt")
  (dict "name" "GOUJI_TOKEN_PUBLIC_KEY" "value" "/etc/gouji/token/public.pem")
  (dict "name" "GOUJI_TOKEN_ISSUER" "value" (toString $sec.tokens.issuer))
  (dict "name" "GOUJI_TOKEN_AUDIENCE" "value" (toString $sec.tokens.audience))) }}
{{- with $v.cpuWorkers }}
{{- $env = append $env (dict "name" "GOUJI_CPU_WORKERS" "value" (toString .)) }}
{{- end }}
{{- with $v.maxInFlight }}
{{- $env = append $env (dict "name" "GOUJI_MAX_IN_FLIGHT" "value" (toString .)) }}
{{- end }}
{{- $env = concat $env (default (list) .env) (default (list) $v.extraEnv) }}
{{- $healthPort := int $sec.healthPort }}
{{- $args := list "--listen" (printf "0.0.0.0:%d" $port) "--health-listen" (printf "0.0.0.0:%d" $healthPort) }}
{{- $metrics := $root.Values.metrics }}
{{- if $metrics.enabled }}
{{- $args = concat $args (list "--metrics-listen" (printf "0.0.0.0:%d" (int $metrics.port))) }}
{{- end }}
{{- $args = concat $args (default (list) .args) (default (list) $v.extraArgs) }}
{{- $tlsVolume := dict "name" "tls" "secret" (dict "secretName" (include "gouji.tlsSecretName" $root) "defaultMode" 288 "items" (list (dict "key" "tls.crt" "path" "tls.crt") (dict "key" "tls.key" "path" "tls.key") (dict "key" "ca.crt" "path" "ca.crt"))) }}
{{- $tokenVolume := dict "name" "token" "secret" (dict "secretName" (include "gouji.tokenSecretName" $root) "defaultMode" 288 "items" (list (dict "key" (toString $sec.tokens.publicKeyKey) "path" "public.pem"))) }}
{{- $volumes := concat (list (dict "name" "tmp" "emptyDir" (dict "sizeLimit" "64Mi")) $tlsVolume $tokenVolume) (default (list) .volumes) }}
{{- $mounts := concat (list (dict "name" "tmp" "mountPath" "/tmp") (dict "name" "tls" "mountPath" "/etc/gouji/tls" "readOnly" true) (dict "name" "token" "mountPath" "/etc/gouji/token" "readOnly" true)) (default (list) .volumeMounts) }}
{{- $podAnnotations := merge (dict) (default (dict) .annotations) (default (dict) $root.Values.podAnnotations) }}
{{- if and $metrics.enabled $metrics.podAnnotations }}
{{- $podAnnotations = merge $podAnnotations (dict "prometheus.io/scrape" "true" "prometheus.io/port" (toString $metrics.port) "prometheus.io/path" "/metrics") }}
{{- end }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "gouji.componentName" . }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "gouji.componentLabels" . | nindent 4 }}
spec:
  replicas: {{ $v.replicaCount }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "gouji.componentSelectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      {{- with $podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      labels:
        {{- include "gouji.componentLabels" . | nindent 8 }}
        {{- with $root.Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "gouji.serviceAccountName" $root }}
      automountServiceAccountToken: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: {{ $root.Values.terminationGracePeriodSeconds }}
      containers:
        - name: {{ $c }}
          image: {{ include "gouji.image" . | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command:
            {{- toYaml (default (list (printf "gouji-%s" $c)) $v.command) | nindent 12 }}
          args:
            {{- toYaml $args | nindent 12 }}
          env:
            {{- toYaml $env | nindent 12 }}
          ports:
            - name: grpc
              containerPort: {{ $port }}
              protocol: TCP
            - name: health
              containerPort: {{ $healthPort }}
              protocol: TCP
            {{- if $metrics.enabled }}
            - name: metrics
              containerPort: {{ int $metrics.port }}
              protocol: TCP
            {{- end }}
          startupProbe:
            grpc:
              port: {{ $healthPort }}
              service: {{ $grpcService }}
            {{- toYaml $root.Values.probes.startup | nindent 12 }}
          readinessProbe:
            grpc:
              port: {{ $healthPort }}
              service: {{ $grpcService }}
            {{- toYaml $root.Values.probes.readiness | nindent 12 }}
          livenessProbe:
            grpc:
              port: {{ $healthPort }}
              service: {{ default "" .livenessService | quote }}
            {{- toYaml $root.Values.probes.liveness | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          {{- with $v.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          volumeMounts:
            {{- toYaml $mounts | nindent 12 }}
      volumes:
        {{- toYaml $volumes | nindent 8 }}
      {{- if $root.Values.topologySpread.enabled }}
      topologySpreadConstraints:
        - maxSkew: {{ $root.Values.topologySpread.maxSkew }}
          topologyKey: {{ $root.Values.topologySpread.topologyKey }}
          whenUnsatisfiable: {{ $root.Values.topologySpread.whenUnsatisfiable }}
          labelSelector:
            matchLabels:
              {{- include "gouji.componentSelectorLabels" . | nindent 14 }}
      {{- end }}
      {{- with $root.Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}

{{/* ClusterIP Service of one service, port named "grpc". */}}
{{- define "gouji.service" -}}
{{- $v := index .root.Values .component }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "gouji.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "gouji.componentLabels" . | nindent 4 }}
  {{- with $v.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ $v.service.type }}
  selector:
    {{- include "gouji.componentSelectorLabels" . | nindent 4 }}
  ports:
    - name: grpc
      port: {{ $v.port }}
      targetPort: grpc
      protocol: TCP
      appProtocol: grpc
    {{- if .root.Values.metrics.enabled }}
    - name: metrics
      port: {{ int .root.Values.metrics.port }}
      targetPort: metrics
      protocol: TCP
      appProtocol: http
    {{- end }}
{{- end }}

{{/* PodDisruptionBudget of one service (only when podDisruptionBudget.enabled). */}}
{{- define "gouji.pdb" -}}
{{- $pdb := .root.Values.podDisruptionBudget }}
{{- if $pdb.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "gouji.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "gouji.componentLabels" . | nindent 4 }}
spec:
  {{- if and (not (kindIs "invalid" $pdb.maxUnavailable)) (ne (toString $pdb.maxUnavailable) "") }}
  maxUnavailable: {{ $pdb.maxUnavailable }}
  {{- else }}
  minAvailable: {{ $pdb.minAvailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "gouji.componentSelectorLabels" . | nindent 6 }}
{{- end }}
{{- end }}
