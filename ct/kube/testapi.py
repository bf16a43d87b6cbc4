"""The test API server (ct/kube/start-apiserver.sh) from a script: the
calls the benches and the dashboard's check make to set it up, over its
kubeconfig's server, CA and the static token it accepts."""
import json
import ssl
import time
import urllib.request


def client(kubeconfig):
    """A call(method, path, body, content) -> HTTP status for that server."""
    text = open(kubeconfig).read()
    server = text.split("server: ")[1].split()[0]
    ca = text.split("certificate-authority: ")[1].split()[0]
    context = ssl.create_default_context(cafile=ca)

    def call(method, path, body, content="application/json"):
        req = urllib.request.Request(server + path, method=method, data=body,
                                     headers={"Authorization": "Bearer test-token", "Content-Type": content})
        try:
            return urllib.request.urlopen(req, context=context).status
        except urllib.error.HTTPError as e:
            return e.code
    return call


def install_crds(call, crds_yaml):
    """Every CRD of `gatehouse-operator crds`' output (a plain POST: 1.20
    drops CEL rules that way instead of refusing them)."""
    for crd in open(crds_yaml).read().split("---\n")[1:]:
        status = call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd.encode(),
                      "application/yaml")
        assert status in (201, 409), f"CRD not created: {status}"


def running_proxy_pod(call, name, labels, admin_port):
    """A proxy Pod object, marked Running at 127.0.0.1 (no kubelet runs it),
    whose container port `admin` is `admin_port`."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
           "spec": {"containers": [{"name": "proxy", "image": "gatehouse",
                    "ports": [{"name": "admin", "containerPort": int(admin_port)}]}]}}
    # The default ServiceAccount appears a moment after the namespace.
    for _ in range(100):
        if call("POST", "/api/v1/namespaces/default/pods", json.dumps(pod).encode()) in (201, 409):
            break
        time.sleep(0.1)
    status = {"status": {"phase": "Running", "podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}]}}
    assert call("PATCH", f"/api/v1/namespaces/default/pods/{name}/status", json.dumps(status).encode(),
                "application/merge-patch+json") == 200


def wait_for_routes(call):
    """Until the Route CRD serves."""
    for _ in range(100):
        if call("GET", "/apis/gatehouse.dev/v1alpha1/routes", None) == 200:
            return
        time.sleep(0.1)
