"""A small Python client for Slipway: spawns `slipway`, speaks newline-delimited JSON-RPC,
returns results, raises on errors, and collects notifications.

    with SlipwayClient("/path/to/slipway", state_dir="/tmp/state") as s:
        s.call("image/create", name="hello", source={"local": {"path": "/src/app"}})
        for line in s.follow_logs("hello"):
            print(line["phase"], line["line"])
"""
import itertools
import json
import queue
import subprocess
import threading


class SlipwayError(Exception):
    def __init__(self, error):
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")
        self.data = error.get("data", {})


class SlipwayClient:
    def __init__(self, executable, state_dir=None, args=()):
        cmd = [executable] + (["--state-dir", state_dir] if state_dir else []) + list(args)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self._ids = itertools.count(1)
        self._pending = {}
        self._lock = threading.Lock()
        self.notifications = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            msg = json.loads(raw)
            if "id" in msg and "method" not in msg:
                with self._lock:
                    slot = self._pending.pop(msg["id"], None)
                if slot:
                    slot.put(msg)
            else:
                self.notifications.put(msg)

    def call(self, method, timeout=600, **params):
        """Sends a request and returns its result; raises SlipwayError on an error reply."""
        rid = next(self._ids)
        slot = queue.Queue(maxsize=1)
        with self._lock:
            self._pending[rid] = slot
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}) + "\n")
        reply = slot.get(timeout=timeout)
        if "error" in reply:
            raise SlipwayError(reply["error"])
        return reply["result"]

    def follow_logs(self, image, build=None, namespace="default"):
        """Yields the build's log lines as they are written, until it ends."""
        params = {"image": image, "namespace": namespace, "follow": True}
        if build is not None:
            params["build"] = build
        done = threading.Event()
        result = {}

        def run():
            result.update(self.call("build/logs", **params))
            done.set()

        threading.Thread(target=run, daemon=True).start()
        while not (done.is_set() and self.notifications.empty()):
            try:
                msg = self.notifications.get(timeout=0.1)
            except queue.Empty:
                continue
            if msg.get("method") == "build/log" and msg["params"]["image"] == image:
                yield msg["params"]

    def close(self):
        """Closes stdin: slipway answers everything, waits for its builds, and exits 0."""
        self.proc.stdin.close()
        return self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
