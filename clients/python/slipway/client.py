"""The synchronous client: a `slipway` process spoken to over its stdin and stdout, one reader
thread dispatching answers to their callers and notifications to whoever follows them."""
import itertools
import json
import queue
import subprocess
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from . import _wire
from ._types import BuildLogLine, Methods
from .errors import ConnectionClosed


class LogFollow(_wire.FollowedLog):
    """A build's log being followed (`Client.follow_logs`): iterate it for the lines; once it is
    exhausted `result` is the `build/logs` answer and `status` the build's final status. With
    `check=True` a build that did not succeed raises `BuildFailed` at the end instead."""

    def __init__(self, image: str, check: bool, lines_of: Callable[["LogFollow"], Iterator[BuildLogLine]]) -> None:
        super().__init__(image, check)
        self._lines = lines_of(self)

    def __iter__(self) -> "LogFollow":
        return self

    def __next__(self) -> BuildLogLine:
        return next(self._lines)

    def wait(self) -> str:
        """Reads the rest of the log without keeping it and returns the final status."""
        for _ in self:
            pass
        assert self.status is not None
        return self.status


class Client(Methods):
    """A Slipway session. Every method of the protocol is also a typed call (`Methods`, generated
    from the protocol's types): `s.image_get({"name": "hello"})` returns an `Image`.

        with Client("slipway", state_dir="/tmp/state") as s:
            s.call("image/create", name="hello", source={"local": {"path": "/src/app"}})
            for line in s.follow_logs("hello"):
                print(line["phase"], line["line"])

    Leaving the `with` block (or `close()`) waits for the builds this session started, as a
    pipeline does; with `wait=False` it detaches instead (`shutdown`, `exit`): the builds go on
    in the engine. Notifications nobody follows wait in `notifications`, at most
    `notification_limit` of them (the oldest are dropped, with a warning), unless callbacks
    registered with `on_notification` take them.
    """

    def __init__(self, executable: str = "slipway", state_dir: Optional[str] = None, args: Sequence[str] = (),
                 timeout: float = 600, wait: bool = True, notification_limit: int = 10000) -> None:
        self.timeout = timeout
        #: Whether leaving the `with` block waits for this session's builds (see `close`).
        self.wait = wait
        self._sink = _wire.NotificationSink(notification_limit)
        self._proc = subprocess.Popen(_wire.command(executable, state_dir, args), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._pending: Dict[int, "queue.Queue[Dict[str, Any]]"] = {}
        self._followers: List[Tuple[Callable[[Dict[str, Any]], bool], "queue.Queue[Any]"]] = []
        self._closed = False
        #: Notifications nobody follows (statusChanged, events, …), in order, at most
        #: `notification_limit`.
        self.notifications: "queue.Queue[Dict[str, Any]]" = queue.Queue(maxsize=notification_limit)
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def dropped_notifications(self) -> int:
        """How many notifications were dropped because `notifications` was full."""
        return self._sink.dropped

    def on_notification(self, method: Optional[str], callback: _wire.NotificationCallback) -> None:
        """Gives each notification of `method` (every one when None) to `callback`, on the
        reader thread, instead of queueing it in `notifications`. The callback gets the message
        (`{"method", "params"}`) and must return quickly: answers wait while it runs."""
        with self._lock:
            self._sink.add(method, callback)

    def remove_notification_callback(self, method: Optional[str], callback: _wire.NotificationCallback) -> None:
        with self._lock:
            self._sink.remove(method, callback)

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
                self._sink.deliver(message, self.notifications)
        with self._lock:
            self._closed = True
            pending, self._pending = self._pending, {}
        for slot in pending.values():
            slot.put({"error": {"code": -32099, "message": "slipway exited before it answered"}})

    def _write(self, data: bytes) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(data)
            self._proc.stdin.flush()
        except (BrokenPipeError, ValueError) as e:  # ValueError: stdin already closed
            raise ConnectionClosed() from e

    def _send(self, method: str, params: Dict[str, Any], slot: Optional["queue.Queue[Any]"] = None) -> "queue.Queue[Any]":
        """Sends a request; its answer will be put in `slot` (a new queue unless given)."""
        rid = next(self._ids)
        slot = slot if slot is not None else queue.Queue(maxsize=1)
        with self._lock:
            if self._closed:
                raise ConnectionClosed()
            self._pending[rid] = slot
        self._write(_wire.request(rid, method, params))
        return slot

    def call(self, method: str, params: Optional[Dict[str, Any]] = None, **kwargs: Any) -> Any:
        """Sends a request and returns its result; an error answer raises the `SlipwayError`
        subclass its reason names (`NotFound`, `InvalidParams`, …). Params come as a dict, or as
        keyword arguments."""
        return _wire.result_of(self._send(method, {**(params or {}), **kwargs}).get(timeout=self.timeout))

    def follow_logs(self, image: str, build: Optional[int] = None, namespace: str = "default", check: bool = False) -> LogFollow:
        """The build's log lines (`BuildLogLine`: `line`, `phase`, `stream`, `seq`, …) as they are
        written, from the first, ending with the build; then `result` and `status` of the returned
        `LogFollow` tell how it ended. With `check=True` a build that did not succeed raises
        `BuildFailed` (with the final status) once its last line has been read."""
        return LogFollow(image, check, lambda follow: self._follow(follow, image, build, namespace))

    def _follow(self, follow: LogFollow, image: str, build: Optional[int], namespace: str) -> Iterator[BuildLogLine]:
        lines: "queue.Queue[Any]" = queue.Queue()
        follower = (lambda m: _wire.is_log_of(m, image, namespace, build), lines)
        with self._lock:
            self._followers.append(follower)
        try:
            # The answer goes into the same queue as the lines: it comes after every line the
            # engine sent before it, as both arrive in order on one stream.
            self._send("build/logs", _wire.logs_params(image, build, namespace), slot=lines)
            while True:
                line = follow.line_or_end(lines.get(timeout=self.timeout))
                if line is None:
                    return
                yield line
        finally:
            with self._lock:
                self._followers.remove(follower)

    def close(self, wait: Optional[bool] = None) -> int:
        """Ends the session and returns slipway's exit status (0 when all went well). Waiting
        (`wait`, default the client's), slipway answers everything, waits for the builds this
        session started, and exits. Not waiting, it detaches: `shutdown` then `exit`, and the
        builds go on in the engine (with `--embedded` there is no engine to go on in: they are
        abandoned)."""
        if self._proc.stdin and not self._proc.stdin.closed:
            if not (self.wait if wait is None else wait):
                try:
                    self.call("shutdown")
                    self._write(_wire.notification("exit"))
                except ConnectionClosed:
                    pass  # slipway has gone already: there is nothing left to detach from
            try:
                self._proc.stdin.close()
            except BrokenPipeError:
                pass  # what a failed write left unflushed has no reader any more: slipway has gone
        return self._proc.wait()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
