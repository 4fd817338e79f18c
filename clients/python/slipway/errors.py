"""The errors a Slipway request answers with, as exceptions of one family: `SlipwayError` and a
subclass per reason of the protocol's table (spec/protocol.md, "Errors"), so that callers can
write `except NotFound:` rather than compare codes."""
from typing import Any, Dict, Mapping, Optional, Type, Union


class SlipwayError(Exception):
    """A JSON-RPC error answer: `code` (the brief's table: -32602 bad params, 1001 NotFound, …),
    `reason` (``NotFound``, ``AlreadyExists``, …) and `field` (the param it is about) when the
    engine says them, and the whole `data`. Raised as the subclass its reason or code names
    (`error_from` picks it); catch this class for every error of the package."""

    def __init__(self, error: Mapping[str, Any]) -> None:
        self.code: int = int(error.get("code", 0))
        self.message: str = str(error.get("message", ""))
        data = error.get("data")
        self.data: Dict[str, Any] = data if isinstance(data, dict) else {}
        self.reason: Optional[str] = self.data.get("reason")
        self.field: Optional[str] = self.data.get("field")
        super().__init__(f"{self.code}: {self.message}" if self.code else self.message)


class ParseError(SlipwayError):
    """-32700: what was sent is not JSON."""


class InvalidRequest(SlipwayError):
    """-32600: not a request, or not one that is allowed now (a second `initialize`, anything
    after `shutdown`)."""


class MethodNotFound(SlipwayError):
    """-32601: the engine has no such method (see `rpc_discover()`)."""


class InvalidParams(SlipwayError):
    """-32602: a param is missing, of the wrong type, unknown or invalid; `field` names it."""


class InternalError(SlipwayError):
    """-32603: the engine failed; its engine.log says more."""


class RequestCancelled(SlipwayError):
    """-32800: the request was cancelled (`$/cancelRequest`)."""


class NotFound(SlipwayError):
    """1001: the named object does not exist (`data` has `kind`, `name`, `namespace`)."""


class AlreadyExists(SlipwayError):
    """1002: create of a name that exists."""


class FailedPrecondition(SlipwayError):
    """1003: not possible in the object's state (trigger of an image with no build, cancel of a
    finished build, a tag change on patch)."""


class Conflict(SlipwayError):
    """1004: a concurrent change got there first; read again and retry."""


class QuotaExceeded(SlipwayError):
    """1005: a limit of the namespace was reached (images, build runs); delete some first."""


class Unavailable(SlipwayError):
    """1006: a dependency (registry, git remote, sandbox tool) cannot be reached or is missing,
    or the disk is full."""


class PermissionDenied(SlipwayError):
    """1007: credentials refused, or a source path outside the engine's `--allow-source`."""


class ConnectionClosed(SlipwayError):
    """Slipway went away (or was closed) before it answered."""

    def __init__(self, error: Union[str, Mapping[str, Any]] = "slipway exited before it answered") -> None:
        super().__init__({"code": -32099, "message": error} if isinstance(error, str) else error)


class BuildFailed(SlipwayError):
    """A followed build ended without success (`follow_logs(..., check=True)`): `build` is its
    number, `status` the final status (`FAILURE`), `result` the whole `build/logs` answer."""

    def __init__(self, image: str, result: Mapping[str, Any]) -> None:
        self.image = image
        self.result: Dict[str, Any] = dict(result)
        self.build: Optional[int] = self.result.get("build")
        self.status: Optional[str] = self.result.get("status")
        super().__init__({"code": 0, "message": f"build {self.build} of image {image} ended {self.status}; "
                                                f"its log says why (build/status has its message)",
                          "data": {"reason": "BuildFailed", "build": self.build, "status": self.status}})


#: The exception for each `data.reason` the protocol names, and for each code.
_BY_REASON: Dict[str, Type[SlipwayError]] = {
    cls.__name__: cls for cls in (InvalidParams, NotFound, AlreadyExists, FailedPrecondition, Conflict,
                                  QuotaExceeded, Unavailable, PermissionDenied, RequestCancelled)
}
_BY_CODE: Dict[int, Type[SlipwayError]] = {
    -32700: ParseError, -32600: InvalidRequest, -32601: MethodNotFound, -32602: InvalidParams,
    -32603: InternalError, -32800: RequestCancelled, 1001: NotFound, 1002: AlreadyExists,
    1003: FailedPrecondition, 1004: Conflict, 1005: QuotaExceeded, 1006: Unavailable, 1007: PermissionDenied,
    -32099: ConnectionClosed,
}


def error_from(error: Mapping[str, Any]) -> SlipwayError:
    """The exception for a JSON-RPC error object: the class its `data.reason` names, else the
    one of its code, else `SlipwayError` (a code this package does not know yet)."""
    data = error.get("data")
    reason = data.get("reason") if isinstance(data, dict) else None
    code = error.get("code")
    cls = _BY_REASON.get(reason) if isinstance(reason, str) else None
    if cls is None and isinstance(code, int):
        cls = _BY_CODE.get(code)
    return (cls or SlipwayError)(error)
