"""Where the Cellpipe companion server is and which token it takes.

Read on every request: the companion server writes ``server.json`` when it starts and removes it when
it stops, so a restarted server (new port) is picked up without restarting Jupyter.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


class UpstreamNotConfigured(Exception):
    """No companion server can be located; the message says what to do."""


@dataclass(frozen=True)
class Upstream:
    url: str  # base URL without a trailing slash, e.g. http://127.0.0.1:8686
    token: str | None


def cellpipe_home(env: dict[str, str] | os._Environ = os.environ) -> Path:
    home = env.get("CELLPIPE_HOME")
    return Path(home).expanduser() if home else Path.home() / ".cellpipe"


def _check_url(url: str, origin: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UpstreamNotConfigured(f"{origin} is not an http(s) URL: {url!r}")
    return url.rstrip("/")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_token(home: Path) -> str | None:
    try:
        text = (home / "token").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text or None


def resolve_upstream(env: dict[str, str] | os._Environ = os.environ) -> Upstream:
    """CELLPIPE_URL/CELLPIPE_TOKEN win; otherwise the live server recorded in $CELLPIPE_HOME."""
    home = cellpipe_home(env)
    url = env.get("CELLPIPE_URL", "").strip()
    if url:
        token = env.get("CELLPIPE_TOKEN", "").strip() or _read_token(home)
        return Upstream(_check_url(url, "CELLPIPE_URL"), token)

    server_file = home / "server.json"
    try:
        info = json.loads(server_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UpstreamNotConfigured(
            f"no Cellpipe server is running: {server_file} does not exist "
            "(start one with `cellpipe serve`, or set CELLPIPE_URL and CELLPIPE_TOKEN)"
        ) from None
    except (OSError, ValueError) as err:
        raise UpstreamNotConfigured(f"cannot read {server_file}: {err}") from None
    if not isinstance(info, dict) or not isinstance(info.get("url"), str):
        raise UpstreamNotConfigured(f"{server_file} has no 'url'")
    pid = info.get("pid")
    if isinstance(pid, int) and pid > 0 and not _pid_alive(pid):
        raise UpstreamNotConfigured(
            f"the Cellpipe server recorded in {server_file} (pid {pid}) is not running "
            "(start one with `cellpipe serve`)"
        )
    token = env.get("CELLPIPE_TOKEN", "").strip() or _read_token(home)
    return Upstream(_check_url(info["url"], str(server_file)), token)
