{{/*
Names and labels. Every object of the chart carries `gatehouse.labels` (plus
`app.kubernetes.io/component` from `gatehouse.componentLabels`).
*/}}

{{- define "gatehouse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "<release>-gatehouse", or the release name when it already contains the chart's name. */}}
{{- define "gatehouse.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "gatehouse.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels every object carries: include "gatehouse.labels" . */}}
{{- define "gatehouse.labels" -}}
helm.sh/chart: {{ include "gatehouse.chart" . }}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: gatehouse
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The labels and the component: include "gatehouse.componentLabels" (dict "root" . "component" "proxy") */}}
{{- define "gatehouse.componentLabels" -}}
{{ include "gatehouse.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* What a selector matches (never changes across upgrades): (dict "root" . "component" "proxy") */}}
{{- define "gatehouse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The label the operator finds proxy Pods by (Deployment, depot StatefulSet and sidecars). */}}
{{- define "gatehouse.proxyLabelKey" -}}gatehouse.dev/proxy{{- end -}}
{{- define "gatehouse.proxySelector" -}}
{{- printf "%s=%s" (include "gatehouse.proxyLabelKey" .) (include "gatehouse.fullname" .) -}}
{{- end -}}

{{- define "gatehouse.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "gatehouse.operatorServiceAccountName" -}}
{{- if .Values.operator.serviceAccount.create -}}
{{- default (printf "%s-operator" (include "gatehouse.fullname" .)) .Values.operator.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.operator.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "gatehouse.proxyServiceAccountName" -}}
{{- if .Values.proxy.serviceAccount.create -}}
{{- default (printf "%s-proxy" (include "gatehouse.fullname" .)) .Values.proxy.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.proxy.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "gatehouse.adminTokenSecret" -}}
{{- .Values.admin.token.existingSecret | default (printf "%s-admin-token" (include "gatehouse.fullname" .)) -}}
{{- end -}}

{{- define "gatehouse.adminTlsSecret" -}}
{{- printf "%s-admin-tls" (include "gatehouse.fullname" .) -}}
{{- end -}}

{{- define "gatehouse.configMapName" -}}
{{- printf "%s-config" (include "gatehouse.fullname" .) -}}
{{- end -}}

{{/* The depot writer's URL, which the other proxies forward depot and git requests to. */}}
{{- define "gatehouse.dataWriterURL" -}}
{{- printf "http://%s-depot.%s.svc:8080" (include "gatehouse.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/* The mock provisions: files of mock.provisionsDir (this chart's files) and mock.provisions, as one dict. */}}
{{- define "gatehouse.mockFiles" -}}
{{- $files := dict -}}
{{- if .Values.mock.provisionsDir -}}
{{- range $path, $bytes := .Files.Glob (printf "%s/*" (trimSuffix "/" .Values.mock.provisionsDir)) -}}
{{- $_ := set $files (base $path) (toString $bytes) -}}
{{- end -}}
{{- end -}}
{{- range $name, $text := .Values.mock.provisions -}}
{{- $_ := set $files $name $text -}}
{{- end -}}
{{- toYaml $files -}}
{{- end -}}

{{/* Where the proxies watch provisions. */}}
{{- define "gatehouse.provisionsDir" -}}/var/lib/gatehouse-mocks{{- end -}}

{{/* The pod-level securityContext of every Gatehouse Pod. */}}
{{- define "gatehouse.podSecurityContext" -}}
{{ toYaml .Values.podSecurityContext }}
{{- end -}}

{{/*
Probes of a proxy's admin port: HTTPS with admin TLS, a TCP connect when a
client certificate is required (kubelet has none):
(dict "path" "/readyz" "tls" BOOL "clientCa" BOOL)
*/}}
{{- define "gatehouse.adminProbe" -}}
{{- if and .tls .clientCa -}}
tcpSocket:
  port: admin
{{- else -}}
httpGet:
  path: {{ .path }}
  port: admin
  scheme: {{ ternary "HTTPS" "HTTP" .tls }}
{{- end -}}
{{- end -}}

{{/*
The proxy's flags shared by the Deployment and the
depot writer: (dict "root" .)
*/}}
{{- define "gatehouse.proxyCommonArgs" -}}
{{- $root := .root -}}
- --admin-listen=0.0.0.0:9901
- --admin-token-file=/etc/gatehouse/admin-token/token
{{- if $root.Values.admin.tls.enabled }}
- --admin-tls-cert=/etc/gatehouse/admin-tls/tls.crt
- --admin-tls-key=/etc/gatehouse/admin-tls/tls.key
{{- if $root.Values.admin.tls.requireClientCert }}
- --admin-client-ca=/etc/gatehouse/admin-tls/ca.crt
{{- end }}
{{- end }}
- --config-file=/etc/gatehouse/config/config.json
- --await-config
- --log={{ $root.Values.proxy.log.level }}
- --log-format={{ $root.Values.proxy.log.format }}
- --access-log={{ $root.Values.proxy.log.access }}
- --shutdown-grace={{ $root.Values.proxy.shutdownGrace }}
{{- end -}}

{{/* The volumes every proxy mounts: (dict "tls" BOOL "configMap" NAME "tokenSecret" NAME "tlsSecret" NAME) */}}
{{- define "gatehouse.proxyVolumes" -}}
- name: gatehouse-tmp
  emptyDir: {}
- name: gatehouse-config
  configMap:
    name: {{ .configMap }}
    optional: true
- name: gatehouse-admin-token
  secret:
    secretName: {{ .tokenSecret }}
    items:
      - key: token
        path: token
{{- if .tls }}
- name: gatehouse-admin-tls
  secret:
    secretName: {{ .tlsSecret }}
    items:
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
      - key: ca.crt
        path: ca.crt
{{- end }}
{{- end -}}

{{/* (dict "tls" BOOL) */}}
{{- define "gatehouse.proxyVolumeMounts" -}}
- name: gatehouse-tmp
  mountPath: /tmp
- name: gatehouse-config
  mountPath: /etc/gatehouse/config
  readOnly: true
- name: gatehouse-admin-token
  mountPath: /etc/gatehouse/admin-token
  readOnly: true
{{- if .tls }}
- name: gatehouse-admin-tls
  mountPath: /etc/gatehouse/admin-tls
  readOnly: true
{{- end }}
{{- end -}}

{{/* The proxies' terminationGracePeriodSeconds: --shutdown-grace plus 10 s. */}}
{{- define "gatehouse.terminationGrace" -}}
{{- $grace := .Values.proxy.shutdownGrace -}}
{{- $seconds := 30 -}}
{{- if hasSuffix "ms" $grace -}}
{{- $seconds = div (trimSuffix "ms" $grace | int) 1000 -}}
{{- else if hasSuffix "s" $grace -}}
{{- $seconds = trimSuffix "s" $grace | int -}}
{{- else if hasSuffix "m" $grace -}}
{{- $seconds = mul (trimSuffix "m" $grace | int) 60 -}}
{{- end -}}
{{- add $seconds 10 -}}
{{- end -}}
