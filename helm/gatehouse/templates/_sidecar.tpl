{{/*
Sidecar mode: Gatehouse's proxy beside your app, in your own chart's Pod
(docs/packaging.md). Your chart depends on this one (so the admin Secrets and
the config ConfigMap are in your namespace) and the operator runs with
`operator.sidecars: true`.

In your Pod template:

  metadata:
    labels:
      {{- include "gatehouse.sidecarLabels" (dict "name" "myrel-gatehouse") | nindent 8 }}
  spec:
    containers:
      - name: app
        ...                          # listens on 127.0.0.1:3000
      {{- include "gatehouse.sidecar" (dict "root" . "name" "myrel-gatehouse" "appPort" 3000) | nindent 6 }}
    volumes:
      {{- include "gatehouse.sidecarVolumes" (dict "root" . "name" "myrel-gatehouse") | nindent 6 }}

and point your app's Service at the container port named `gatehouse-http`
(or `portName`).

Parameters (a dict):
  root          the caller's context (required)
  name          the Gatehouse release's full name (the operator's
                --proxy-selector gatehouse.dev/proxy=<name>, and the default
                names below); default: this chart's fullname seen from root
                (root.Values.gatehouse when root is a parent chart)
  appPort       the app's port on localhost (required): --local-app http://127.0.0.1:<appPort>
  port          where the sidecar listens for the Service (default 8080)
  portName      that container port's name (default gatehouse-http)
  image         default "gatehouse:<this chart's appVersion>"
  imagePullPolicy  default IfNotPresent
  adminTls      the admin API over TLS (default true, as admin.tls.enabled)
  adminClientCa require the operator's client certificate (default false)
  tokenSecret   default <name>-admin-token
  tlsSecret     default <name>-admin-tls
  configMap     default <name>-config (optional: the sidecar waits for a push)
  dataWriter    a depot writer URL (--data-writer); default the release's depot writer when depot.enabled
  logLevel      default info
  resources     default requests 50m/32Mi, limit 256Mi
  extraArgs     more proxy flags
*/}}

{{- define "gatehouse.sidecarDefaults" -}}
{{- $root := .root -}}
{{- $v := dict -}}
{{- if $root.Values.gatehouse -}}{{- $v = $root.Values.gatehouse -}}{{- else if $root.Values.admin -}}{{- $v = $root.Values -}}{{- end -}}
{{- $admin := $v.admin | default dict -}}
{{- $tls := $admin.tls | default dict -}}
{{- $self := eq $root.Chart.Name "gatehouse" -}}
{{- $name := .name -}}
{{- if not $name -}}
{{- if $self -}}{{- $name = include "gatehouse.fullname" $root -}}
{{- else if $v.fullnameOverride -}}{{- $name = $v.fullnameOverride -}}
{{- else -}}
{{- /* As gatehouse.fullname computes it inside the subchart. */ -}}
{{- $short := $v.nameOverride | default "gatehouse" -}}
{{- if contains $short $root.Release.Name -}}{{- $name = $root.Release.Name -}}
{{- else -}}{{- $name = printf "%s-%s" $root.Release.Name $short -}}
{{- end -}}
{{- end -}}
{{- $name = $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- $tlsOn := true -}}
{{- if hasKey . "adminTls" -}}{{- $tlsOn = .adminTls -}}{{- else if hasKey $tls "enabled" -}}{{- $tlsOn = $tls.enabled -}}{{- end -}}
{{- $clientCa := false -}}
{{- if hasKey . "adminClientCa" -}}{{- $clientCa = .adminClientCa -}}{{- else if hasKey $tls "requireClientCert" -}}{{- $clientCa = $tls.requireClientCert -}}{{- end -}}
{{- $image := .image -}}
{{- if not $image -}}
{{- $img := $v.image | default dict -}}
{{- $version := "latest" -}}
{{- if $self -}}{{- $version = $root.Chart.AppVersion -}}
{{- else if and $root.Subcharts (hasKey $root.Subcharts "gatehouse") -}}{{- $version = (index $root.Subcharts "gatehouse").Chart.AppVersion -}}
{{- end -}}
{{- $image = printf "%s:%s" ($img.repository | default "gatehouse") ($img.tag | default $version) -}}
{{- end -}}
{{- toYaml (dict
  "name" $name
  "tls" $tlsOn
  "clientCa" $clientCa
  "image" $image
  "tokenSecret" (.tokenSecret | default ((($admin.token | default dict).existingSecret) | default (printf "%s-admin-token" $name)))
  "tlsSecret" (.tlsSecret | default (printf "%s-admin-tls" $name))
  "configMap" (.configMap | default (printf "%s-config" $name))
  "dataWriter" (ternary (printf "http://%s-depot.%s.svc:8080" $name $root.Release.Namespace) "" (($v.depot | default dict).enabled | default false))
) -}}
{{- end -}}

{{/* The label the operator finds sidecar proxies by: (dict "name" NAME) or (dict "root" .) */}}
{{- define "gatehouse.sidecarLabels" -}}
{{- $d := include "gatehouse.sidecarDefaults" . | fromYaml -}}
gatehouse.dev/proxy: {{ $d.name }}
{{- end -}}

{{/* The proxy container, for a Pod's `containers` list. */}}
{{- define "gatehouse.sidecar" -}}
{{- $d := include "gatehouse.sidecarDefaults" . | fromYaml -}}
{{- $port := .port | default 8080 | int -}}
{{- $appPort := required "gatehouse.sidecar: appPort (the app's port on localhost) is required" .appPort | int -}}
{{- if eq $port $appPort -}}{{- fail "gatehouse.sidecar: port and appPort must differ (the app listens on 127.0.0.1:appPort, the sidecar on port)" -}}{{- end -}}
- name: gatehouse
  image: {{ $d.image }}
  imagePullPolicy: {{ .imagePullPolicy | default "IfNotPresent" }}
  # No command: the image's entrypoint (tini) stays pid 1 and reaps git's children.
  args:
    - gatehouse-proxy
    - --listen=0.0.0.0:{{ $port }}
    # Requests no Route matches go to the app.
    - --local-app=http://127.0.0.1:{{ $appPort }}
    - --admin-listen=0.0.0.0:9901
    - --admin-token-file=/etc/gatehouse/admin-token/token
    {{- if $d.tls }}
    - --admin-tls-cert=/etc/gatehouse/admin-tls/tls.crt
    - --admin-tls-key=/etc/gatehouse/admin-tls/tls.key
    {{- if $d.clientCa }}
    - --admin-client-ca=/etc/gatehouse/admin-tls/ca.crt
    {{- end }}
    {{- end }}
    - --config-file=/etc/gatehouse/config/config.json
    - --await-config
    {{- with (.dataWriter | default $d.dataWriter) }}
    - --data-writer={{ . }}
    {{- end }}
    - --log={{ .logLevel | default "info" }}
    - --log-format=json
    {{- range .extraArgs }}
    - {{ . | quote }}
    {{- end }}
  env:
    - name: HOME
      value: /tmp
  ports:
    - name: {{ .portName | default "gatehouse-http" }}
      containerPort: {{ $port }}
      protocol: TCP
    # The operator pushes to the container port named `admin`.
    - name: admin
      containerPort: 9901
      protocol: TCP
  readinessProbe:
    {{- include "gatehouse.adminProbe" (dict "path" "/readyz" "tls" $d.tls "clientCa" $d.clientCa) | nindent 4 }}
    periodSeconds: 5
  livenessProbe:
    {{- include "gatehouse.adminProbe" (dict "path" "/healthz" "tls" $d.tls "clientCa" $d.clientCa) | nindent 4 }}
    periodSeconds: 10
    failureThreshold: 6
  resources:
    {{- toYaml (.resources | default (dict "requests" (dict "cpu" "50m" "memory" "32Mi") "limits" (dict "memory" "256Mi"))) | nindent 4 }}
  securityContext:
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
    runAsNonRoot: true
    runAsUser: 10001
    runAsGroup: 10001
    capabilities:
      drop: [ALL]
    seccompProfile:
      type: RuntimeDefault
  volumeMounts:
    {{- include "gatehouse.proxyVolumeMounts" (dict "tls" $d.tls) | nindent 4 }}
{{- end -}}

{{/* The sidecar's volumes, for the Pod's `volumes` list (same parameters). */}}
{{- define "gatehouse.sidecarVolumes" -}}
{{- $d := include "gatehouse.sidecarDefaults" . | fromYaml -}}
{{- include "gatehouse.proxyVolumes" (dict "tls" $d.tls "configMap" $d.configMap "tokenSecret" $d.tokenSecret "tlsSecret" $d.tlsSecret) -}}
{{- end -}}
