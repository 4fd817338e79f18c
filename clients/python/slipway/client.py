"""The synchronous client: a `slipway` process spoken to over its stdin and stdout, one reader
thread dispatching answers to their callers and notifications to whoever follows them."""
import itertools
import json
import queue
import subprocess
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from . import _wire
from ._types import Methods
from .errors import ConnectionClosed, SlipwayError


class Client(Methods):
    """A Slipway session. Every method of the protocol is also a typed call (`Methods`, generated
    from the protocol's types): `s.image_get({"name": "hello"})` returns an `Image`.

        with Client("slipway", state_dir="/tmp/state") as s:
            s.call("image/create", name="hello", source={"local": {"path": "/src/app"}})
            for line in s.follow_logs("hello"):
                print(line["phase"], line["line"])
    """

    def __init__(self, executable: str = "slipway", state_dir: Optional[str] = None, args: Sequence[str] = (), timeout: float = 600) -> None:
        self.timeout = timeout
        self._proc = subprocess.Popen(_wire.command(executable, state_dir, args), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._pending: Dict[int, "queue.Queue[Dict[str, Any]]"] = {}
        self._followers: List[Tuple[Callable[[Dict[str, Any]], bool], "queue.Queue[Any]"]] = []
        self._closed = False
        #: Notifications nobody follows (statusChanged, events, …), in order.
        self.notifications: "queue.Queue[Dict[str, Any]]" = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for raw in self._proc.stdout:
            if not raw.strip():
                continue
            message = json.loads(raw)
            if "id" in message and "method" not in message:
                with self._lock:
                    slot = self._pending.pop(message["id"], None)
                if slot is not None:
                    slot.put(message)
                continue
            with self._lock:
                takers = [q for match, q in self._followers if match(message)]
            for q in takers:
                q.put(message)
            if not takers:
                self.notifications.put(message)
        with self._lock:
            self._closed = True
            pending, self._pending = self._pending, {}
        for slot in pending.values():
            slot.put({"error": {"code": -32099, "message": "slipway exited before it answered"}})

    def _send(self, method: str, params: Dict[str, Any], slot: Optional["queue.Queue[Any]"] = None) -> "queue.Queue[Any]":
        """Sends a request; its answer will be put in `slot` (a new queue unless given)."""
        rid = next(self._ids)
        slot = slot if slot is not None else queue.Queue(maxsize=1)
        with self._lock:
            if self._closed:
                raise ConnectionClosed()
            self._pending[rid] = slot
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(_wire.request(rid, method, params))
            self._proc.stdin.flush()
        except BrokenPipeError as e:
            raise ConnectionClosed() from e
        return slot

    def call(self, method: str, params: Optional[Dict[str, Any]] = None, **kwargs: Any) -> Any:
        """Sends a request and returns its result; raises `SlipwayError` on an error answer.
        Params come as a dict, or as keyword arguments."""
        reply = self._send(method, {**(params or {}), **kwargs}).get(timeout=self.timeout)
        if "error" in reply:
            raise SlipwayError(reply["error"])
        return reply.get("result")

    def follow_logs(self, image: str, build: Optional[int] = None, namespace: str = "default") -> Iterator[Dict[str, Any]]:
        """Yields the build's log lines (`{"line", "phase", "stream", "seq", …}`) as they are
        written, from the first, and returns when the build has ended."""
        lines: "queue.Queue[Any]" = queue.Queue()
        follower = (lambda m: _wire.is_log_of(m, image, namespace, build), lines)
        with self._lock:
            self._followers.append(follower)
        try:
            # The answer goes into the same queue as the lines: it comes after every line the
            # engine sent before it, as both arrive in order on one stream.
            self._send("build/logs", _wire.logs_params(image, build, namespace), slot=lines)
            while True:
                line = _wire.log_line(lines.get(timeout=self.timeout))
                if line is None:
                    return
                yield line
        finally:
            with self._lock:
                self._followers.remove(follower)

    def close(self) -> int:
        """Closes stdin: slipway answers everything, and exits (0 when all went well)."""
        if self._proc.stdin and not self._proc.stdin.closed:
            self._proc.stdin.close()
        return self._proc.wait()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
