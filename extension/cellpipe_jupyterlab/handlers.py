"""Authenticated proxy from ``<base_url>cellpipe/api/...`` to the Cellpipe companion server.

Responses are streamed chunk by chunk (server-sent events and ``logs?follow=1`` never end on their
own), and the companion server's token is added here so the browser never holds it.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, urlencode

import tornado
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import httputil
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from .upstream import UpstreamNotConfigured, forget_discovered, resolve_upstream

# Only the companion server's API is reachable through the proxy; the path is checked before it is
# joined to the upstream URL, so no "..", scheme or host can be smuggled in.
_PATH_RE = re.compile(r"^api(/[A-Za-z0-9._~\-/%*]*)?$")

# Request headers passed on; cookies and Jupyter's own Authorization stay here.
_FORWARD_REQUEST_HEADERS = ("Content-Type", "Accept", "Last-Event-ID")
_DROP_RESPONSE_HEADERS = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-encoding",
    "server",
    "date",
    "set-cookie",
}
# Streams stay open for as long as a job runs.
_STREAM_TIMEOUT_S = 24 * 3600.0

_client: AsyncHTTPClient | None = None


def _http_client() -> AsyncHTTPClient:
    """A dedicated client: event streams and log follows hold connections for a long time, so the
    shared default (10 connections) would queue ordinary requests behind them."""
    global _client
    if _client is None:
        _client = AsyncHTTPClient(force_instance=True, max_clients=256, max_body_size=1 << 31)
    return _client


class CellpipeProxyHandler(APIHandler):
    _closed = False

    def on_connection_close(self) -> None:
        self._closed = True

    def _error(self, status: int, code: str, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": {"code": code, "message": message}}))

    def _upstream_query(self) -> str:
        # `token` is Jupyter's own token when the page was opened with ?token=: never forward it.
        pairs = [(k, v) for k, v in parse_qsl(self.request.query, keep_blank_values=True) if k != "token"]
        return urlencode(pairs)

    async def _proxy(self, path: str) -> None:
        if not _PATH_RE.match(path) or ".." in path.split("/"):
            self._error(404, "not_found", f"not a Cellpipe API path: /{path}")
            return
        try:
            upstream = await resolve_upstream()
        except UpstreamNotConfigured as err:
            self._error(502, "unreachable", str(err))
            return

        query = self._upstream_query()
        url = f"{upstream.url}/{path}" + (f"?{query}" if query else "")
        headers = httputil.HTTPHeaders()
        for name in _FORWARD_REQUEST_HEADERS:
            value = self.request.headers.get(name)
            if value is not None:
                headers[name] = value
        if upstream.token:
            headers["Authorization"] = f"Bearer {upstream.token}"

        method = self.request.method or "GET"
        body = self.request.body if method in ("POST", "PUT", "PATCH") else None
        if method in ("POST", "PUT", "PATCH") and body is None:
            body = b""

        state = {"started": False, "status_line": None}
        response_headers = httputil.HTTPHeaders()

        def on_header(line: str) -> None:
            if state["status_line"] is None:
                state["status_line"] = httputil.parse_response_start_line(line.strip())
                return
            if line.strip():
                response_headers.parse_line(line)
                return
            # Blank line: headers complete. A 1xx interim response starts over.
            start = state["status_line"]
            state["status_line"] = None
            if start.code < 200:
                response_headers.clear()
                return
            self.clear_header("Content-Type")
            self.set_status(start.code, start.reason)
            for name, value in response_headers.get_all():
                if name.lower() not in _DROP_RESPONSE_HEADERS:
                    self.add_header(name, value)
            if response_headers.get("Content-Type", "").startswith("text/event-stream"):
                self.set_header("Cache-Control", "no-cache")
                self.set_header("X-Accel-Buffering", "no")
            state["started"] = True

        def on_chunk(chunk: bytes) -> None:
            if self._closed:
                # The browser went away: raising aborts the upstream request.
                raise tornado.iostream.StreamClosedError()
            self.write(chunk)
            self.flush()

        request = HTTPRequest(
            url,
            method=method,
            headers=headers,
            body=body,
            header_callback=on_header,
            streaming_callback=on_chunk,
            connect_timeout=10.0,
            request_timeout=_STREAM_TIMEOUT_S,
            decompress_response=True,
            follow_redirects=False,
        )
        try:
            await _http_client().fetch(request, raise_error=False)
        except tornado.iostream.StreamClosedError:
            return
        except Exception as err:  # connection refused, DNS, TLS: the server is not there
            # A service the Hub pointed at may have moved: ask the Hub again next time.
            forget_discovered()
            if not state["started"]:
                self._error(502, "unreachable", f"cannot reach the Cellpipe server at {upstream.url}: {err}")
                return
            self.log.warning("cellpipe proxy: upstream stream ended: %s", err)
        if not state["started"] and not self._finished:
            self._error(502, "unreachable", f"the Cellpipe server at {upstream.url} sent no response")
            return
        if not self._finished and not self._closed:
            # APIHandler.finish would label every reply JSON; keep the upstream's type (logs, notebooks).
            self.finish(set_content_type=response_headers.get("Content-Type", "application/json"))

    @tornado.web.authenticated
    async def get(self, path: str) -> None:
        await self._proxy(path)

    @tornado.web.authenticated
    async def post(self, path: str) -> None:
        await self._proxy(path)

    @tornado.web.authenticated
    async def put(self, path: str) -> None:
        await self._proxy(path)

    @tornado.web.authenticated
    async def patch(self, path: str) -> None:
        await self._proxy(path)

    @tornado.web.authenticated
    async def delete(self, path: str) -> None:
        await self._proxy(path)


def setup_handlers(web_app) -> None:
    base_url = web_app.settings["base_url"]
    route = url_path_join(base_url, "cellpipe", "(.*)")
    web_app.add_handlers(".*$", [(route, CellpipeProxyHandler)])
