"""Builds the example with clients/python/slipway_client.py and prints what it saw as JSON.

usage: python_client_check.py SLIPWAY STATE STACK BUILDPACKS APP REPO
"""
import json
import sys

slipway, state, stack, buildpacks, app, repo = sys.argv[1:7]
sys.path.insert(0, repo + "/clients/python")
from slipway_client import SlipwayClient, SlipwayError  # noqa: E402

with SlipwayClient(slipway, state_dir=state) as s:
    s.call("clusterstack/create", name="base", buildImage=stack + "/build", runImage=stack + "/run", id="io.slipway.test")
    s.call("clusterstore/create", name="default", buildpacks=[buildpacks + "/build-script", buildpacks + "/procfile"])
    s.call("clusterbuilder/create", name="default", stack="base", store="default",
           order=[{"group": [{"id": "slipway/build-script"}, {"id": "slipway/procfile"}]}])
    s.call("image/create", name="py", source={"local": {"path": app}})
    lines = [l["line"] for l in s.follow_logs("py")]
    try:
        s.call("image/get", name="missing")
        error = None
    except SlipwayError as e:
        error = {"code": e.code, "reason": e.data.get("reason")}
    status = s.call("image/status", name="py")
print(json.dumps({"lines": lines, "error": error, "ready": status["ready"]}))
