"""Builds the example app with the `slipway` Python package (clients/python), installed where
PYTHONPATH points, with its sync and its asyncio client, and prints what it saw as JSON.

usage: python_client_check.py SLIPWAY STATE STACK BUILDPACKS APP
"""
import asyncio
import json
import sys

from slipway import AsyncClient, Client, SlipwayError

slipway, state, stack, buildpacks, app = sys.argv[1:6]
out = {}
with Client(slipway, state_dir=state, args=["--build-network", "none"]) as s:
    s.call("clusterstack/create", name="base", buildImage=stack + "/build", runImage=stack + "/run", id="io.slipway.test")
    s.call("clusterstore/create", name="default", buildpacks=[buildpacks + "/build-script", buildpacks + "/procfile"])
    s.call("clusterbuilder/create", name="default", stack="base", store="default",
           order=[{"group": [{"id": "slipway/build-script"}, {"id": "slipway/procfile"}]}])
    s.call("image/create", {"name": "py", "source": {"local": {"path": app}}})
    out["lines"] = [line["line"] for line in s.follow_logs("py")]
    try:
        s.call("image/get", name="missing")
    except SlipwayError as e:
        out["error"] = {"code": e.code, "reason": e.reason}
    try:
        s.call("image/create", name="bad", source={"local": {"path": app}}, buildTimeout=-1)
    except SlipwayError as e:
        out["badField"] = e.field
    out["ready"] = s.call("image/status", name="py")["ready"]


async def main():
    async with await AsyncClient.start(slipway, state_dir=state, args=["--build-network", "none"]) as s:
        build = (await s.call("image/trigger", name="py"))["build"]
        lines = [line["line"] async for line in s.follow_logs("py", build=build)]
        try:
            await s.call("build/status", image="py", build=999)
        except SlipwayError as e:
            reason = e.reason
        status = await s.call("build/status", image="py", build=build)
        return {"build": build, "lines": lines, "reason": reason, "status": status["status"]}

out["async"] = asyncio.run(main())
print(json.dumps(out))
