"""What the sync and async clients share: the command line, request framing, which notifications
belong to which log being followed, where the others go, and how a followed log ends."""
import asyncio
import json
import logging
import queue
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from ._types import BuildLogLine, BuildLogsResult
from .errors import BuildFailed, error_from

#: A notification as it came (`{"jsonrpc", "method", "params"}`), given to a callback.
NotificationCallback = Callable[[Dict[str, Any]], None]

_log = logging.getLogger("slipway")


class NotificationsDropped(RuntimeWarning):
    """Notifications nobody read filled `Client.notifications`, so the oldest were dropped."""


def command(executable: str, state_dir: Optional[str], args: Sequence[str]) -> List[str]:
    return [executable] + (["--state-dir", state_dir] if state_dir else []) + list(args)


def request(rid: int, method: str, params: Dict[str, Any]) -> bytes:
    return (json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}) + "\n").encode()


def notification(method: str, params: Optional[Dict[str, Any]] = None) -> bytes:
    message: Dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return (json.dumps(message) + "\n").encode()


def logs_params(image: str, build: Optional[int], namespace: str) -> Dict[str, Any]:
    params: Dict[str, Any] = {"image": image, "namespace": namespace, "follow": True}
    if build is not None:
        params["build"] = build
    return params


def result_of(reply: Dict[str, Any]) -> Any:
    """A reply's result; an error reply raises the `SlipwayError` subclass it names."""
    if "error" in reply:
        raise error_from(reply["error"])
    return reply.get("result")


def is_log_of(message: Dict[str, Any], image: str, namespace: str, build: Optional[int]) -> bool:
    """Whether a notification is a `build/log` line of the build being followed."""
    if message.get("method") != "build/log":
        return False
    p = message.get("params") or {}
    return bool(p.get("image") == image and p.get("namespace", "default") == namespace and (build is None or p.get("build") == build))


class FollowedLog:
    """What the sync and async followed logs share: the next message's meaning, and the end."""

    def __init__(self, image: str, check: bool) -> None:
        self.image = image
        self.check = check
        #: The `build/logs` answer once the build has ended: `{"build": N, "status": "SUCCESS"}`.
        self.result: Optional[BuildLogsResult] = None

    @property
    def status(self) -> Optional[str]:
        """The build's final status (`SUCCESS`, `FAILURE`), None until it has ended."""
        return self.result["status"] if self.result is not None else None

    def line_or_end(self, message: Dict[str, Any]) -> Optional[BuildLogLine]:
        """The next line, or None at the build's end (the `build/logs` answer, which comes after
        every line), recording the final status; an error answer raises, and so does a build that
        failed when `check` is set."""
        if "method" in message:
            line: BuildLogLine = message["params"]
            return line
        result: BuildLogsResult = result_of(message)
        self.result = result
        if self.check and result.get("status") != "SUCCESS":
            raise BuildFailed(self.image, dict(result))
        return None


class NotificationSink:
    """Where notifications nobody follows go: to the callbacks registered for their method (or
    for all), else into a bounded queue whose oldest entry is dropped, with one warning, when it
    is full, so a client that never reads them does not grow without end."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"notification_limit must be at least 1, not {limit}")
        self.limit = limit
        #: How many notifications were dropped because the queue was full.
        self.dropped = 0
        self._callbacks: Dict[Optional[str], List[NotificationCallback]] = {}

    def add(self, method: Optional[str], callback: NotificationCallback) -> None:
        self._callbacks.setdefault(method, []).append(callback)

    def remove(self, method: Optional[str], callback: NotificationCallback) -> None:
        self._callbacks.get(method, []).remove(callback)

    def deliver(self, message: Dict[str, Any], into: "Union[queue.Queue[Dict[str, Any]], asyncio.Queue[Dict[str, Any]]]") -> None:
        # Copies, taken at once: `Client` adds and removes callbacks on other threads (under its
        # lock), and a list copy is atomic under the GIL.
        callbacks = list(self._callbacks.get(message.get("method"), [])) + list(self._callbacks.get(None, []))
        for callback in callbacks:
            try:
                callback(message)
            except Exception:  # a callback's bug must not stop the reader that serves every request
                _log.exception("slipway: a notification callback for %s raised", message.get("method"))
        if callbacks:
            return
        if into.full():
            try:
                into.get_nowait()
            except (queue.Empty, asyncio.QueueEmpty):
                pass  # the reader took one meanwhile: there is room now
            else:
                self.dropped += 1
                if self.dropped == 1:
                    warnings.warn(f"slipway: {self.limit} notifications wait unread in Client.notifications, so the oldest are "
                                  "being dropped; read them, register callbacks with on_notification(), or raise notification_limit",
                                  NotificationsDropped, stacklevel=2)
        into.put_nowait(message)
