"""Drives slipway over LSP base-protocol framing with python-lsp-jsonrpc, a JSON-RPC client
that is not ours: initialize, create a stack, store, builder and image, wait for the build,
shut down, exit. Prints one JSON object with what it saw; exits non-zero on any failure.

usage: lsp_client.py SLIPWAY STATE_DIR STACK_DIR BUILDPACKS_DIR APP_DIR
"""
import json
import subprocess
import sys
import threading

from pylsp_jsonrpc.endpoint import Endpoint
from pylsp_jsonrpc.streams import JsonRpcStreamReader, JsonRpcStreamWriter

slipway, state, stack, buildpacks, app = sys.argv[1:6]
proc = subprocess.Popen([slipway, "--state-dir", state, "--build-network", "none"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
notifications = []


class Dispatcher(dict):
    def __getitem__(self, method):
        def handler(params):
            notifications.append({"method": method, "params": params})
        return handler


writer = JsonRpcStreamWriter(proc.stdin)
reader = JsonRpcStreamReader(proc.stdout)
endpoint = Endpoint(Dispatcher(), writer.write)
threading.Thread(target=reader.listen, args=(endpoint.consume,), daemon=True).start()


def call(method, params=None):
    return endpoint.request(method, params or {}).result(timeout=120)


init = call("initialize", {"processId": None, "clientInfo": {"name": "pylsp-jsonrpc-test"}, "capabilities": {}})
endpoint.notify("initialized", {})
call("clusterstack/create", {"name": "base", "buildImage": stack + "/build", "runImage": stack + "/run", "id": "io.slipway.test"})
call("clusterstore/create", {"name": "default", "buildpacks": [buildpacks + "/build-script", buildpacks + "/procfile"]})
call("clusterbuilder/create", {"name": "default", "stack": "base", "store": "default",
                               "order": [{"group": [{"id": "slipway/build-script"}, {"id": "slipway/procfile"}]}]})
created = call("image/create", {"name": "lsp-app", "source": {"local": {"path": app}}})
logs = call("build/logs", {"image": "lsp-app", "follow": True})
status = call("image/status", {"name": "lsp-app"})
shutdown = call("shutdown")
endpoint.notify("exit")
code = proc.wait(timeout=60)
print(json.dumps({
    "serverInfo": init["serverInfo"],
    "methods": init["capabilities"]["methods"],
    "build": created["build"],
    "logsResult": logs,
    "ready": status["ready"],
    "latestImage": status["latestImage"],
    "logLines": [n["params"]["line"] for n in notifications if n["method"] == "build/log"],
    "statuses": [n["params"]["status"] for n in notifications if n["method"] == "build/statusChanged"],
    "shutdown": shutdown,
    "exitCode": code,
}))
