"""What the sync and async clients share: the command line, request framing, and which
notifications belong to which log being followed."""
import json
from typing import Any, Dict, List, Optional, Sequence

from .errors import SlipwayError


def command(executable: str, state_dir: Optional[str], args: Sequence[str]) -> List[str]:
    return [executable] + (["--state-dir", state_dir] if state_dir else []) + list(args)


def request(rid: int, method: str, params: Dict[str, Any]) -> bytes:
    return (json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}) + "\n").encode()


def logs_params(image: str, build: Optional[int], namespace: str) -> Dict[str, Any]:
    params: Dict[str, Any] = {"image": image, "namespace": namespace, "follow": True}
    if build is not None:
        params["build"] = build
    return params


def log_line(message: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """A followed build's next line, or None at its end (the `build/logs` answer, which comes
    after every line); an error answer raises."""
    if "method" in message:
        return message["params"]
    if "error" in message:
        raise SlipwayError(message["error"])
    return None


def is_log_of(message: Dict[str, Any], image: str, namespace: str, build: Optional[int]) -> bool:
    """Whether a notification is a `build/log` line of the build being followed."""
    if message.get("method") != "build/log":
        return False
    p = message.get("params") or {}
    return p.get("image") == image and p.get("namespace", "default") == namespace and (build is None or p.get("build") == build)
