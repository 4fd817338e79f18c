"""Checks JSON-RPC results against the result schemas of spec/openrpc.json.

usage: check_results.py OPENRPC RESULTS
RESULTS is a JSON array of {"method": ..., "result": ...}. Prints one line per violation
(method, where, what) and exits 1 if there is any; also lists methods of the spec that
no result covers.
"""
import json
import sys

import jsonschema

spec = json.load(open(sys.argv[1]))
results = json.load(open(sys.argv[2]))
methods = {m["name"]: m for m in spec["methods"]}
problems = []
covered = set()
for r in results:
    name = r["method"]
    covered.add(name)
    m = methods.get(name)
    if m is None:
        problems.append(f"{name}: not in the spec")
        continue
    schema = m["result"]["schema"]
    if name == "rpc.discover":
        continue  # the OpenRPC meta-schema lives outside this document
    root = dict(schema)
    root["components"] = spec["components"]
    validator = jsonschema.Draft7Validator(root)
    for e in validator.iter_errors(r["result"]):
        where = "/".join(str(p) for p in e.absolute_path) or "(result)"
        problems.append(f"{name}: at {where}: {e.message[:300]}")
for name in sorted(set(methods) - covered):
    problems.append(f"{name}: no reply of this method was checked")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
