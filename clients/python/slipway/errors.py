"""The error a Slipway request answers with, as an exception."""
from typing import Any, Dict, Optional


class SlipwayError(Exception):
    """A JSON-RPC error answer: `code` (the brief's table: -32602 bad params, 1001 NotFound, …),
    `reason` (``NotFound``, ``AlreadyExists``, …) and `field` (the param it is about) when the
    engine says them, and the whole `data`."""

    def __init__(self, error: Dict[str, Any]) -> None:
        self.code: int = int(error.get("code", 0))
        self.message: str = str(error.get("message", ""))
        data = error.get("data")
        self.data: Dict[str, Any] = data if isinstance(data, dict) else {}
        self.reason: Optional[str] = self.data.get("reason")
        self.field: Optional[str] = self.data.get("field")
        super().__init__(f"{self.code}: {self.message}")


class ConnectionClosed(SlipwayError):
    """Slipway went away (or was closed) before it answered."""

    def __init__(self, message: str = "slipway exited before it answered") -> None:
        super().__init__({"code": -32099, "message": message})
