"""Checks what the `slipway` Python package (clients/python) gives a program beyond calls, against
the real engine, with the interpreter of the venv it is installed in: a `SlipwayError` subclass
per error reason, the final status of a followed log (returned, or raised with `check=True`),
leaving `with Client(wait=False)` while a build runs (it goes on in the engine), and the bounded
notification queue (oldest dropped with a warning) or callbacks instead. Prints what it saw as
JSON.

usage: python_client_typed_check.py SLIPWAY STATE STACK BUILDPACKS APP WORK
"""
import asyncio
import json
import os
import shutil
import sys
import time
import warnings

import slipway
from slipway import AsyncClient, Client

slipway_bin, state, stack, buildpacks, app, work = sys.argv[1:7]
# Two images at most, so that a third create meets the namespace's quota.
engine_args = ["--build-network", "none", "--quota", "images=2"]
out = {}


def app_copy(name, build_sh):
    """The example app with another build.sh."""
    path = os.path.join(work, name)
    shutil.copytree(app, path)
    with open(os.path.join(path, "build.sh"), "w") as f:
        f.write("#!/usr/bin/env bash\n" + build_sh)
    return path


def error_of(call):
    """The class the package raised for a call, and whether it is a SlipwayError."""
    try:
        call()
    except slipway.SlipwayError as e:
        return {"class": type(e).__name__, "code": e.code, "reason": e.reason}
    return None


def until(what, deadline=60):
    """Polls `what` until it returns something true, for at most `deadline` seconds."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        got = what()
        if got:
            return got
        time.sleep(0.05)
    raise SystemExit(f"gave up waiting for {what.__doc__}")


with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    with Client(slipway_bin, state_dir=state, args=engine_args, notification_limit=3) as s:
        events = []
        s.on_notification("event", events.append)
        s.clusterstack_create({"name": "base", "buildImage": stack + "/build", "runImage": stack + "/run", "id": "io.slipway.test"})
        s.clusterstore_create({"name": "default", "buildpacks": [buildpacks + "/build-script", buildpacks + "/procfile"]})
        s.clusterbuilder_create({"name": "default", "stack": "base", "store": "default",
                                 "order": [{"group": [{"id": "slipway/build-script"}, {"id": "slipway/procfile"}]}]})
        s.image_create({"name": "py", "source": {"local": {"path": app}}})
        follow = s.follow_logs("py")
        lines = [line["line"] for line in follow]
        out["success"] = {"status": follow.status, "result": follow.result, "lines": len(lines)}

        failing = app_copy("failing", 'echo "about to fail"\nexit 3\n')
        s.image_create({"name": "fails", "source": {"local": {"path": failing}}})
        follow = s.follow_logs("fails")
        lines = [line["line"] for line in follow]
        out["failure"] = {"status": follow.status, "result": follow.result, "sawLine": "about to fail" in lines}
        try:
            for _ in s.follow_logs("fails", build=1, check=True):
                pass
            out["raised"] = None
        except slipway.BuildFailed as e:
            out["raised"] = {"class": type(e).__name__, "isSlipwayError": isinstance(e, slipway.SlipwayError),
                             "build": e.build, "status": e.status, "message": str(e)}
        out["waitStatus"] = s.follow_logs("py", build=1).wait()

        out["errors"] = {
            "notFound": error_of(lambda: s.image_get({"name": "missing"})),
            "invalidParams": error_of(lambda: s.call("image/create", name="bad", source={"local": {"path": app}}, buildTimeout=-1)),
            "alreadyExists": error_of(lambda: s.image_create({"name": "py", "source": {"local": {"path": app}}})),
            "failedPrecondition": error_of(lambda: s.build_cancel({"image": "py", "build": 1})),
            "methodNotFound": error_of(lambda: s.call("no/such")),
        }
        out["errors"]["quotaExceeded"] = error_of(lambda: s.image_create({"name": "third", "source": {"local": {"path": app}}}))
        out["errors"]["unavailable"] = error_of(lambda: s.clusterstack_create({"name": "gone", "id": "io.slipway.test",
                                                                                "buildImage": "127.0.0.1:1/gone/build", "runImage": "127.0.0.1:1/gone/run"}))

        # The queue holds the newest 3 notifications: the last one, the end of build 2 of "py",
        # arrives once the oldest have been dropped to make room.
        build = s.image_trigger({"name": "py"})["build"]
        s.build_wait({"image": "py", "build": build})

        def queued_now():
            with s.notifications.mutex:  # the reader thread adds and drops meanwhile
                return list(s.notifications.queue)

        def queued_end():
            """the queued statusChanged of the triggered build's end"""
            return any(n["method"] == "build/statusChanged" and n["params"].get("build") == build and n["params"]["status"] == "SUCCESS"
                       and n["params"]["image"] == "py" for n in queued_now())
        until(queued_end)
        queued = queued_now()
        out["notifications"] = {"queued": len(queued), "dropped": s.dropped_notifications,
                                "eventsQueued": sum(1 for n in queued if n["method"] == "event"),
                                "eventsToCallback": len(events)}
    out["warnings"] = [{"category": w.category.__name__, "message": str(w.message)} for w in caught
                       if issubclass(w.category, slipway.NotificationsDropped)]

# Leaving with wait=False detaches: the slow build goes on in the engine.
slow = app_copy("slow", "sleep 300\n")
with Client(slipway_bin, state_dir=state, args=engine_args) as s:
    s.image_delete({"name": "py"})
    s.image_create({"name": "third", "source": {"local": {"path": slow}}})
    slow_build = 1  # a new image's first build
    until(lambda: s.build_status({"image": "third", "build": slow_build})["status"] == "BUILDING")
    s.wait = False
    started = time.monotonic()
with Client(slipway_bin, state_dir=state, args=engine_args) as s:
    out["detached"] = {"seconds": time.monotonic() - started,
                       "statusAfter": s.build_status({"image": "third", "build": slow_build})["status"]}
    s.build_cancel({"image": "third", "build": slow_build})
    out["detached"]["cancelled"] = s.build_wait({"image": "third", "build": slow_build})["status"]

# A session whose slipway has gone: calls raise ConnectionClosed, and close() (detaching) still
# returns slipway's exit status.
gone = Client(slipway_bin, state_dir=state, args=engine_args, wait=False)
gone._proc.kill()
gone._proc.wait()
out["gone"] = {"call": error_of(lambda: gone.image_list({})), "close": gone.close()}


async def main():
    async with await AsyncClient.start(slipway_bin, state_dir=state, args=engine_args, wait=False) as s:
        follow = s.follow_logs("fails", build=1)
        lines = [line["line"] async for line in follow]
        result = {"status": follow.status, "lines": len(lines)}
        try:
            async for _ in s.follow_logs("fails", build=1, check=True):
                pass
        except slipway.BuildFailed as e:
            result["raised"] = e.status
        try:
            await s.image_get({"name": "missing"})
        except slipway.NotFound as e:
            result["notFound"] = e.reason
        build = (await s.image_trigger({"name": "third"}))["build"]
        result["build"] = build
    async with await AsyncClient.start(slipway_bin, state_dir=state, args=engine_args) as s:
        result["statusAfter"] = (await s.build_status({"image": "third", "build": build}))["status"]
        await s.build_cancel({"image": "third", "build": build})
    return result

out["async"] = asyncio.run(main())
print(json.dumps(out))
