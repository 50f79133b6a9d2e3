#!/usr/bin/env python3
"""Writes tests/kubernetes-schema/v1.37.0-strict.json: the JSON Schemas of the Kubernetes kinds
tenantd renders, for the Kubernetes version k8s-openapi's `latest` feature targets.

Where the data comes from: the PyPI package kubernetes-validate 1.37.0 (by Will Thames,
https://github.com/willthames/kubernetes-validate), directory
kubernetes_validate/kubernetes-json-schema/v1.37.0-local-strict/ of its wheel. Those are JSON
Schemas (draft 2020-12) generated from the OpenAPI spec of Kubernetes v1.37.0, "strict" meaning
`additionalProperties: false` on objects, so a misspelt field is an error. The Kubernetes OpenAPI
spec and kubernetes-validate are both licensed under the Apache License 2.0; so is the generated
file.

What is written: one self-contained document with the schema of each kind tenantd renders under
"kinds" (keyed "<apiVersion>/<kind>", e.g. "apps/v1/Deployment") and, under "$defs", exactly the
definitions they reference, directly or transitively. References into the package's
_definitions.json are rewritten to local "#/$defs/..." ones and the per-kind "$id"/"$schema" are
dropped, so every reference resolves within the file. Nothing else is changed. The output is
deterministic (sorted keys, fixed indentation): running this again yields no diff.

Usage (Python 3 standard library only):
    scripts/kubernetes-schema.py [--wheel kubernetes_validate-1.37.0-py3-none-any.whl] [--check]
Without --wheel, the wheel is downloaded with `python3 -m pip download` into a temporary
directory. Either way its SHA-256 must match the pinned one. --check writes nothing and exits 1
when the committed file differs from what would be generated.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile

PACKAGE = "kubernetes-validate"
PACKAGE_VERSION = "1.37.0"
KUBERNETES_VERSION = "v1.37.0"
WHEEL = "kubernetes_validate-1.37.0-py3-none-any.whl"
# SHA-256 of the wheel on PyPI.
WHEEL_SHA256 = "85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9"
SCHEMA_DIR = "kubernetes_validate/kubernetes-json-schema/%s-local-strict/" % KUBERNETES_VERSION
DEFINITIONS = "_definitions.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

# The kinds tenantd renders (src/runtime/kubernetes/manifests.rs): apiVersion, kind, and the
# package's file for it.
KINDS = [
    ("v1", "Namespace", "namespace-v1.json"),
    ("v1", "ServiceAccount", "serviceaccount-v1.json"),
    ("networking.k8s.io/v1", "NetworkPolicy", "networkpolicy-networking-v1.json"),
    ("v1", "ConfigMap", "configmap-v1.json"),
    ("v1", "Secret", "secret-v1.json"),
    ("v1", "PersistentVolumeClaim", "persistentvolumeclaim-v1.json"),
    ("apps/v1", "Deployment", "deployment-apps-v1.json"),
    ("v1", "Service", "service-v1.json"),
]

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT = os.path.join(REPO, "tests", "kubernetes-schema", "%s-strict.json" % KUBERNETES_VERSION)

# The forms a reference to a definition takes in the package.
REF_PREFIXES = ["/api/_definitions.json#/$defs/", "_definitions.json#/$defs/", "#/$defs/"]


def fail(message):
    sys.exit("kubernetes-schema.py: " + message)


def download(into):
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", into,
         "%s==%s" % (PACKAGE, PACKAGE_VERSION)],
        check=True,
    )
    path = os.path.join(into, WHEEL)
    if not os.path.exists(path):
        fail("pip did not download %s" % WHEEL)
    return path


def load_wheel(path):
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != WHEEL_SHA256:
        fail("%s: SHA-256 %s, expected %s (%s %s)" % (path, digest, WHEEL_SHA256, PACKAGE, PACKAGE_VERSION))
    with zipfile.ZipFile(path) as z:
        def read(name):
            return json.loads(z.read(SCHEMA_DIR + name).decode("utf-8"))

        return read(DEFINITIONS), {(api, kind): read(name) for api, kind, name in KINDS}


def def_name(ref):
    for prefix in REF_PREFIXES:
        if ref.startswith(prefix):
            name = ref[len(prefix):]
            if "/" in name or "~" in name:
                fail("unexpected definition name in $ref %r" % ref)
            return name
    fail("unexpected $ref %r" % ref)


def localize(node, found):
    """A copy of `node` with every $ref rewritten to "#/$defs/<name>"; each name goes into `found`."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                name = def_name(value)
                found.add(name)
                out[key] = "#/$defs/" + name
            else:
                out[key] = localize(value, found)
        return out
    if isinstance(node, list):
        return [localize(v, found) for v in node]
    return node


def build(definitions, kind_schemas):
    all_defs = definitions["$defs"]
    kinds = {}
    pending = set()
    for (api, kind), schema in kind_schemas.items():
        schema = {k: v for k, v in schema.items() if k not in ("$id", "$schema")}
        gvk = schema.get("x-kubernetes-group-version-kind", [])
        group = api.rpartition("/")[0]
        if {"group": group, "kind": kind, "version": api.rpartition("/")[2]} not in gvk:
            fail("the schema for %s %s declares %r" % (api, kind, gvk))
        kinds["%s/%s" % (api, kind)] = localize(schema, pending)
    defs = {}
    while pending:
        name = pending.pop()
        if name in defs:
            continue
        if name not in all_defs:
            fail("$ref to a missing definition %r" % name)
        defs[name] = localize(all_defs[name], pending)
    header = (
        "The JSON Schemas (draft 2020-12, strict: no unknown fields) of the Kubernetes kinds tenantd renders, "
        "with the definitions they reference, for Kubernetes %s. Extracted from the %s directory of the PyPI "
        "package %s %s (generated from the Kubernetes OpenAPI spec). License: Apache-2.0, as Kubernetes and %s. "
        "Generated by scripts/kubernetes-schema.py; do not edit."
        % (KUBERNETES_VERSION, SCHEMA_DIR, PACKAGE, PACKAGE_VERSION, PACKAGE)
    )
    return {"$comment": header, "$schema": DRAFT, "$defs": defs, "kinds": kinds}


def render(doc):
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", help="the %s wheel (default: download it with pip)" % WHEEL)
    parser.add_argument("--output", default=OUTPUT, help="where to write (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the output is stale")
    args = parser.parse_args()

    if args.wheel:
        definitions, kind_schemas = load_wheel(args.wheel)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            definitions, kind_schemas = load_wheel(download(tmp))
    text = render(build(definitions, kind_schemas))

    if args.check:
        try:
            with open(args.output, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current != text:
            print("%s is stale: run scripts/kubernetes-schema.py" % args.output, file=sys.stderr)
            return 1
        return 0
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print("wrote %s (%d bytes)" % (args.output, len(text.encode("utf-8"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
