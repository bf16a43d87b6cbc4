#!/usr/bin/env python3
"""Turns one container of a Deployment or StatefulSet, as the API server
holds it, into a local process's command line: what a kubelet would run,
minus the kubelet.

    pod-process.py WORKLOAD_JSON CONTAINER ROOT BINARY [--set FLAG=VALUE]...

- The Secret and ConfigMap volumes the container mounts are written below
  ROOT (ROOT/<mountPath>/<key>), read with kubectl (KUBECTL, KUBECONFIG);
  an optional ConfigMap or key that does not exist yet is left out, as a
  kubelet leaves it out.
- Every argument naming a mounted path is rewritten to its copy below ROOT.
- `--set --listen=127.0.0.1:1234` replaces that flag's value (added when
  the container has none).
- Flags the BINARY's --help does not know (flags newer than the binary
  under test) are dropped and named on stderr.
Prints the arguments, one a line; the env (name=value, literal values and
fieldRefs left to the caller) goes to ROOT/env.
"""
import base64
import json
import os
import subprocess
import sys


def kubectl(*args):
    cmd = [os.environ.get("KUBECTL", "kubectl"), *args]
    out = subprocess.run(cmd, capture_output=True, text=True)
    return out.returncode, out.stdout, out.stderr


def main():
    workload_file, container_name, root, binary = sys.argv[1:5]
    sets = {}
    rest = sys.argv[5:]
    while rest:
        if rest[0] == "--set":
            flag, _, value = rest[1].partition("=")
            sets[flag] = value
            rest = rest[2:]
        else:
            sys.exit(f"pod-process.py: unknown argument {rest[0]}")
    with open(workload_file) as f:
        workload = json.load(f)
    namespace = workload["metadata"]["namespace"]
    spec = workload["spec"]["template"]["spec"]
    container = next(c for c in spec["containers"] if c["name"] == container_name)
    volumes = {v["name"]: v for v in spec.get("volumes", [])}

    mounts = []
    for m in container.get("volumeMounts", []):
        v = volumes.get(m["name"], {})
        target = os.path.join(root, m["mountPath"].lstrip("/"))
        os.makedirs(target, exist_ok=True)
        mounts.append((m["mountPath"], target))
        if "secret" in v:
            kind, name, optional = "secret", v["secret"]["secretName"], v["secret"].get("optional", False)
            items = v["secret"].get("items")
        elif "configMap" in v:
            kind, name, optional = "configmap", v["configMap"]["name"], v["configMap"].get("optional", False)
            items = v["configMap"].get("items")
        else:
            continue  # emptyDir, PVC: an empty folder
        code, out, err = kubectl("get", kind, name, "-n", namespace, "-o", "json")
        if code != 0:
            if optional:
                continue
            sys.exit(f"pod-process.py: the {kind} {name} that {container_name} mounts is missing: {err}")
        obj = json.loads(out)
        data = {}
        for k, val in (obj.get("data") or {}).items():
            data[k] = base64.b64decode(val) if kind == "secret" else val.encode()
        for k, val in (obj.get("binaryData") or {}).items():
            data[k] = base64.b64decode(val)
        pairs = [(i["key"], i["path"]) for i in items] if items else [(k, k) for k in data]
        for key, path in pairs:
            if key not in data:
                continue
            dest = os.path.join(target, path)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, "wb") as f:
                f.write(data[key])

    # The chart sets no command, so the image's entrypoint (tini) runs
    # args: the program's name first, then (the operator's) subcommand.
    given = list(container.get("args", []))
    if container.get("command"):
        program = container["command"][-1]
    else:
        program = given.pop(0) if given else ""
    subcommand = []
    if "operator" in program and given and given[0] == "run":
        subcommand = [given.pop(0)]
    known = subprocess.run([binary, *subcommand, "--help"], capture_output=True, text=True).stdout
    args = list(subcommand)
    seen = set()
    mounts.sort(key=lambda m: -len(m[0]))
    for arg in given:
        flag = arg.split("=", 1)[0]
        if flag.startswith("--") and flag not in known:
            sys.exit(f"pod-process.py: {container_name}: the chart passes {arg}, which {binary} does not know: "
                     "the chart and the binary disagree")
        if flag in sets:
            args.append(f"{flag}={sets[flag]}")
            seen.add(flag)
            continue
        # A value that is a mounted path, or below one: its copy under ROOT.
        name, eq, value = arg.partition("=")
        if eq:
            for path, target in mounts:
                if value == path or value.startswith(path.rstrip("/") + "/"):
                    arg = f"{name}={target}{value[len(path.rstrip('/')):]}"
                    break
        args.append(arg)
    for flag, value in sets.items():
        if flag not in seen:
            args.append(f"{flag}={value}")
    with open(os.path.join(root, "env"), "w") as f:
        for e in container.get("env", []):
            if "value" in e:
                f.write(f"{e['name']}={e['value']}\n")
    print("\n".join(args))


main()
