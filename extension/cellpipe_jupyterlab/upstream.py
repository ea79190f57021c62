"""Where the Cellpipe companion server is and which token it takes.

In order:

1. ``CELLPIPE_URL`` (with ``CELLPIPE_TOKEN``, else the single-user server's ``JUPYTERHUB_API_TOKEN``
   under JupyterHub, else the home token);
2. under JupyterHub (``JUPYTERHUB_API_URL`` and ``JUPYTERHUB_API_TOKEN`` are set, as the Hub does for
   every single-user server): the Hub service named ``CELLPIPE_SERVICE_NAME`` (default ``cellpipe``),
   whose URL and prefix the Hub gives (``GET <api>/services/<name>``, which needs
   ``read:services!service=<name>`` in ``c.Spawner.server_token_scopes``), reached with the server's
   own token. The answer is kept for a minute; a connection failure forgets it;
3. the live server recorded in ``$CELLPIPE_HOME/server.json`` (read on every request: a restarted
   server, on a new port, is picked up without restarting Jupyter).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

# How long the Hub's answer about where the service is stays good (seconds).
DISCOVERY_TTL_S = 60.0


class UpstreamNotConfigured(Exception):
    """No companion server can be located; the message says what to do."""


@dataclass(frozen=True)
class Upstream:
    url: str  # base URL without a trailing slash, e.g. http://127.0.0.1:8686 or .../services/cellpipe
    token: str | None
    # Where the URL came from, for messages: "CELLPIPE_URL", "the JupyterHub service cellpipe", a path.
    source: str = "CELLPIPE_URL"


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


def _hub(env) -> tuple[str, str] | None:
    """(API URL, token) of the Hub this server was spawned by, if any."""
    api = env.get("JUPYTERHUB_API_URL", "").strip()
    token = env.get("JUPYTERHUB_API_TOKEN", "").strip()
    return (api.rstrip("/"), token) if api and token else None


def service_name(env=os.environ) -> str:
    return env.get("CELLPIPE_SERVICE_NAME", "").strip() or "cellpipe"


_discovered: dict[tuple[str, str], tuple[float, Upstream]] = {}


def forget_discovered() -> None:
    """Drop what the Hub said (the service moved, or is down): the next request asks again."""
    _discovered.clear()


async def discover_hub_service(env=os.environ) -> tuple[Upstream | None, str]:
    """The Hub service's upstream, or None and why not (for the message when nothing else works)."""
    hub = _hub(env)
    if hub is None:
        return None, "not under JupyterHub"
    api, hub_token = hub
    name = service_name(env)
    key = (api, name)
    cached = _discovered.get(key)
    if cached and cached[0] > time.monotonic():
        return cached[1], ""
    url = f"{api}/services/{quote(name, safe='')}"
    request = HTTPRequest(
        url, headers={"Authorization": f"token {hub_token}", "Accept": "application/json"},
        connect_timeout=5.0, request_timeout=10.0,
    )
    try:
        reply = await AsyncHTTPClient().fetch(request)
    except HTTPClientError as err:
        if err.code in (403, 404):
            why = (
                f"the Hub has no service {name!r}" if err.code == 404 else
                f"the server's Hub token may not read the service {name!r} (add "
                f"read:services!service={name} to c.Spawner.server_token_scopes and to a role of the user)"
            )
            return None, f"{why} (GET {url}: {err.code})"
        raise UpstreamNotConfigured(f"cannot ask the Hub where Cellpipe is (GET {url}): {err}") from None
    except OSError as err:
        raise UpstreamNotConfigured(f"cannot reach the Hub API at {api}: {err}") from None
    model = json.loads(reply.body or b"{}")
    base = (model.get("url") or "").rstrip("/")
    if not base:
        return None, f"the Hub service {name!r} has no URL (GET {url})"
    prefix = (model.get("prefix") or f"/services/{name}/").rstrip("/")
    token = env.get("CELLPIPE_TOKEN", "").strip() or hub_token
    upstream = Upstream(_check_url(base + prefix, f"the URL of the JupyterHub service {name!r}"), token,
                        f"the JupyterHub service {name!r}")
    _discovered[key] = (time.monotonic() + DISCOVERY_TTL_S, upstream)
    return upstream, ""


def _from_server_json(env, home: Path) -> Upstream:
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
    return Upstream(_check_url(info["url"], str(server_file)), token, str(server_file))


async def resolve_upstream(env: dict[str, str] | os._Environ = os.environ) -> Upstream:
    """CELLPIPE_URL wins; then the Hub's Cellpipe service; then the live server of $CELLPIPE_HOME."""
    home = cellpipe_home(env)
    url = env.get("CELLPIPE_URL", "").strip()
    if url:
        hub = _hub(env)
        token = env.get("CELLPIPE_TOKEN", "").strip() or (hub[1] if hub else None) or _read_token(home)
        return Upstream(_check_url(url, "CELLPIPE_URL"), token, "CELLPIPE_URL")
    found, why_not = await discover_hub_service(env)
    if found:
        return found
    try:
        return _from_server_json(env, home)
    except UpstreamNotConfigured as err:
        if _hub(env) is None:
            raise
        raise UpstreamNotConfigured(f"{why_not}; and {err}") from None
