"""Checks `slipctl export --kpack` output (on stdin) against kpack's field lists: the YAML parses
(PyYAML), every document is a kpack.io/v1alpha2 resource of a known kind, uses only fields its
types define, with the required ones present. Prints {"kinds": [...], "comments": [...]} as JSON,
or the problems (and exits 1).

usage: kpack_export_check.py FIELDS.json < export.yaml
"""
import json
import sys

import yaml

fields = json.load(open(sys.argv[1]))
types = fields["types"]
text = sys.stdin.read()
problems = []


def check(value, type_name, path):
    if type_name == "object":
        return
    if type_name.startswith("["):
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list")
            return
        for i, item in enumerate(value):
            check(item, type_name[1:-1], f"{path}[{i}]")
        return
    expected = {"string": str, "int": int, "bool": bool}.get(type_name)
    if expected:
        if not isinstance(value, expected):
            problems.append(f"{path}: expected {type_name}, got {type(value).__name__}")
        return
    spec = types[type_name]
    if not isinstance(value, dict):
        problems.append(f"{path}: expected an object ({type_name})")
        return
    for key, inner in value.items():
        if key not in spec["fields"]:
            problems.append(f"{path}.{key}: {type_name} has no such field")
        else:
            check(inner, spec["fields"][key], f"{path}.{key}")
    for key in spec.get("required", []):
        if key not in value:
            problems.append(f"{path}: {type_name} needs {key}")


kinds = []
for doc in yaml.safe_load_all(text):
    if doc is None:
        continue
    kind = doc.get("kind")
    if doc.get("apiVersion") != "kpack.io/v1alpha2" or kind not in fields["resources"]:
        problems.append(f"a document that is no kpack.io/v1alpha2 resource: {doc}")
        continue
    kinds.append(kind)
    check(doc, "Resource", kind)
    check(doc["spec"], fields["resources"][kind], f"{kind}.spec")
comments = [line[2:] for line in text.splitlines() if line.startswith("# ")]
if problems:
    print("\n".join(problems))
    sys.exit(1)
print(json.dumps({"kinds": kinds, "comments": comments}))
