"""The Jupyter server proxy against a real Jupyter server and a stand-in companion server.

Run with the project venv's Python (it has jupyter_server and this package installed):

    .venv/bin/python -m unittest discover -s extension/tests -v

The stand-in upstream records what reached it and streams its replies slowly, so the test can tell a
streamed reply from a buffered one.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

JUPYTER_TOKEN = "jupyter-secret"
CELLPIPE_TOKEN = "cellpipe-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Upstream(BaseHTTPRequestHandler):
    """Stand-in companion server: echoes what it received; /api/slow streams three chunks."""

    seen: list[dict] = []
    release = threading.Event()

    def log_message(self, *args):  # keep test output clean
        pass

    def _record(self, body: bytes = b"") -> None:
        Upstream.seen.append(
            {"method": self.command, "path": self.path, "auth": self.headers.get("Authorization"),
             "cookie": self.headers.get("Cookie"), "body": body.decode()}
        )

    def do_GET(self):
        self._record()
        if self.path.startswith("/api/slow"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(3):
                data = f"event: job\ndata: {i}\n\n".encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
                if i == 0:
                    # Hold the stream until the test saw the first event through the proxy.
                    Upstream.release.wait(10)
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path.startswith("/api/missing"):
            self._json(404, {"error": {"code": "not_found", "message": "no such job"}})
            return
        self._json(200, {"path": self.path})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self._record(body)
        self._json(201, {"received": json.loads(body or b"null")})

    def do_DELETE(self):
        self._record()
        self.send_response(204)
        self.end_headers()

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class ProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
        cls.upstream_url = f"http://127.0.0.1:{cls.upstream.server_address[1]}"
        threading.Thread(target=cls.upstream.serve_forever, daemon=True).start()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.port = free_port()
        cls.dead_port = free_port()
        env = dict(os.environ, CELLPIPE_URL=cls.upstream_url, CELLPIPE_TOKEN=CELLPIPE_TOKEN,
                   CELLPIPE_HOME=cls.tmp.name, JUPYTER_CONFIG_DIR=os.path.join(cls.tmp.name, "cfg"))
        cls.server = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--port={cls.port}", "--no-browser",
             f"--IdentityProvider.token={JUPYTER_TOKEN}", f"--ServerApp.root_dir={cls.tmp.name}",
             "--ServerApp.jpserver_extensions={'cellpipe_jupyterlab': True}", "--allow-root"],
            env=env, stdout=subprocess.DEVNULL, stderr=open(Path(cls.tmp.name) / "server.log", "wb"),
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                status, _, _ = cls.request("GET", "/api/status")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        cls.tearDownClass()
        raise RuntimeError("jupyter server did not start")

    @classmethod
    def tearDownClass(cls):
        cls.server.terminate()
        cls.server.wait(20)
        cls.upstream.shutdown()
        cls.tmp.cleanup()

    @classmethod
    def request(cls, method, path, body=None, headers=None, token=True):
        conn = http.client.HTTPConnection("127.0.0.1", cls.port, timeout=20)
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"token {JUPYTER_TOKEN}"
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, r.getheader("Content-Type"), data

    def setUp(self):
        Upstream.seen.clear()

    def test_adds_the_cellpipe_token_and_keeps_jupyter_credentials_here(self):
        # Jupyter's own token may ride in the query (EventSource cannot send headers): never forwarded.
        status, ctype, data = self.request("GET", f"/cellpipe/api/jobs?state=running&token={JUPYTER_TOKEN}",
                                           headers={"Cookie": "a=b"})
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(data), {"path": "/api/jobs?state=running"})
        self.assertEqual(Upstream.seen[0]["auth"], f"Bearer {CELLPIPE_TOKEN}")
        self.assertIsNone(Upstream.seen[0]["cookie"])

    def test_post_body_and_status_pass_through(self):
        status, _, data = self.request("POST", "/cellpipe/api/jobs", body=json.dumps({"name": "x"}),
                                       headers={"Content-Type": "application/json"})
        self.assertEqual(status, 201)
        self.assertEqual(json.loads(data), {"received": {"name": "x"}})

    def test_error_replies_keep_status_and_body(self):
        status, _, data = self.request("GET", "/cellpipe/api/missing")
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(data)["error"]["message"], "no such job")

    def test_delete_204(self):
        status, _, data = self.request("DELETE", "/cellpipe/api/jobs/abcdef1")
        self.assertEqual((status, data), (204, b""))

    def test_requires_jupyter_auth(self):
        status, _, _ = self.request("GET", "/cellpipe/api/jobs", token=False)
        self.assertIn(status, (401, 403))
        self.assertEqual(Upstream.seen, [])

    def test_only_api_paths(self):
        for path in ("/cellpipe/healthz", "/cellpipe/metrics", "/cellpipe/api/../x"):
            status, _, _ = self.request("GET", path)
            self.assertEqual(status, 404, path)
        self.assertEqual(Upstream.seen, [])

    def test_streams_events_before_the_upstream_finishes(self):
        Upstream.release.clear()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        conn.request("GET", "/cellpipe/api/slow", headers={"Authorization": f"token {JUPYTER_TOKEN}"})
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        self.assertTrue(r.getheader("Content-Type").startswith("text/event-stream"))
        first = r.read1(4096)
        # The upstream is still holding the rest: this chunk came through unbuffered.
        self.assertIn(b"data: 0", first)
        Upstream.release.set()
        rest = r.read()
        self.assertIn(b"data: 2", first + rest)
        conn.close()


class UnreachableTest(unittest.TestCase):
    """No server at CELLPIPE_URL, or no server.json: a 502 JSON error that says so."""

    def run_server(self, env_extra):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        port = free_port()
        env = dict(os.environ, CELLPIPE_HOME=tmp.name, JUPYTER_CONFIG_DIR=os.path.join(tmp.name, "cfg"), **env_extra)
        env.pop("CELLPIPE_URL", None) if "CELLPIPE_URL" not in env_extra else None
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--port={port}", "--no-browser",
             f"--IdentityProvider.token={JUPYTER_TOKEN}", f"--ServerApp.root_dir={tmp.name}",
             "--ServerApp.jpserver_extensions={'cellpipe_jupyterlab': True}", "--allow-root"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.addCleanup(lambda: (proc.terminate(), proc.wait(20)))
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/cellpipe/api/me", headers={"Authorization": f"token {JUPYTER_TOKEN}"})
                r = conn.getresponse()
                result = r.status, json.loads(r.read())
                conn.close()
                return result
            except OSError:
                time.sleep(0.3)
        self.fail("jupyter server did not start")

    def test_dead_url(self):
        status, body = self.run_server({"CELLPIPE_URL": f"http://127.0.0.1:{free_port()}"})
        self.assertEqual(status, 502)
        self.assertEqual(body["error"]["code"], "unreachable")
        self.assertIn("cannot reach the Cellpipe server", body["error"]["message"])

    def test_no_server_json(self):
        status, body = self.run_server({})
        self.assertEqual(status, 502)
        self.assertEqual(body["error"]["code"], "unreachable")
        self.assertIn("server.json does not exist", body["error"]["message"])

    def test_hub_token_that_may_not_read_the_service(self):
        # Under a Hub whose server token lacks read:services!service=cellpipe, the message says what to add.
        hub = ThreadingHTTPServer(("127.0.0.1", 0), Forbidden)
        threading.Thread(target=hub.serve_forever, daemon=True).start()
        self.addCleanup(hub.shutdown)
        status, body = self.run_server({
            "JUPYTERHUB_API_URL": f"http://127.0.0.1:{hub.server_address[1]}/hub/api",
            "JUPYTERHUB_API_TOKEN": "server-token",
        })
        self.assertEqual(status, 502)
        self.assertIn("read:services!service=cellpipe", body["error"]["message"])
        self.assertIn("server.json does not exist", body["error"]["message"])
        self.assertEqual(Forbidden.paths, ["/hub/api/services/cellpipe"])


class Forbidden(BaseHTTPRequestHandler):
    """A Hub that refuses to say where its services are."""

    paths: list[str] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        Forbidden.paths.append(self.path)
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.end_headers()


if __name__ == "__main__":
    unittest.main()
