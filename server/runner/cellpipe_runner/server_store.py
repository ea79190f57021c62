"""The server store: a task pod with no file system shared with the server passes its data through
the companion server over HTTP (task.json ``dataStore.kind == "server"``).

Every request names the attempt (``<url>/<jobId>/<taskName>/<attempt>/...``) and carries its token
(``Authorization: Bearer``, read from ``tokenFile``), which the server honours for that attempt
only, and only while it runs:

    GET  inputs/<task>/<name>   an input (a pickle another task saved); 404 when there is none
    PUT  vars/<name>            an output
    PUT  files/<path>           an artifact (a file under CELLPIPE_OUTPUT_DIR)
    PUT  notebook, result       the executed notebook, result.json (last)

Bodies are streamed from and to files in the pod's scratch space (the paths of task.json), never
held in memory. A transfer that fails for want of the server (connection refused or reset, a proxy's
502/503/504) is tried again, from the start of the file (a download resumes where it stopped), for
``retrySeconds``: a server that restarts meanwhile loses nothing. Any other refusal ends at once
with the server's message.

The local side is a FileStore: what a task saves is written to its scratch folder first (so a value
that cannot be pickled never reaches the server), then uploaded; an input is downloaded once, then
read from there. Standard library only.
"""

import errno
import os
import sys
import time

from .data import FileStore

DEFAULT_RETRY_SECONDS = 600
CHUNK = 1 << 16
# One connection attempt or one read/write of the socket.
SOCKET_TIMEOUT = 60
RETRY_STATUSES = (429, 502, 503, 504)
MAX_DELAY = 5.0


class ServerStoreError(OSError):
    """The server refused a transfer, or could not be reached in time (errno EIO: an I/O failure,
    not a value that cannot be pickled)."""

    def __init__(self, message, status=None):
        OSError.__init__(self, errno.EIO, message)
        self.status = status

    def __str__(self):
        return self.strerror


class _Retry(Exception):
    """A failure worth trying again: the server is (re)starting or the connection broke."""


def _quote(segment):
    from urllib.parse import quote

    return quote(segment, safe="")


def _server_message(status, body):
    """The message of the server's error body ({"error": {"message"}}), else the status."""
    import json

    try:
        message = json.loads(body.decode("utf-8"))["error"]["message"]
        if isinstance(message, str) and message:
            return "%s (HTTP %d)" % (message, status)
    except Exception:
        pass
    return "HTTP %d" % status


class ServerStore(object):
    """Variables, artifacts, the executed notebook and result.json through the companion server."""

    KIND = "server"

    def __init__(
        self,
        url,
        token_file,
        job_id,
        task_name,
        attempt,
        artifact_root,
        vars_dir,
        retry_seconds=None,
    ):
        from urllib.parse import urlsplit

        self.url = url.rstrip("/")
        self.token_file = token_file
        self.job_id = job_id
        self.task_name = task_name
        self.attempt = attempt
        self.retry_seconds = DEFAULT_RETRY_SECONDS if retry_seconds is None else retry_seconds
        self.local = FileStore(artifact_root, vars_dir)
        parts = urlsplit(self.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = "%s/%s/%s/%d" % (parts.path.rstrip("/"), _quote(job_id), _quote(task_name), attempt)
        self._token = None

    def config(self):
        return {
            "kind": self.KIND,
            "url": self.url,
            "tokenFile": self.token_file,
            "jobId": self.job_id,
            "taskName": self.task_name,
            "attempt": self.attempt,
            "artifactRoot": self.local.artifact_root,
            "varsDir": self.local.vars_dir,
            "retrySeconds": self.retry_seconds,
        }

    # ---- the store seam ---------------------------------------------------------------------------

    def where(self, source, name):
        return self._url("inputs", source, name)

    def open_input(self, source, name):
        path = self.local.where(source, name)
        if not os.path.isfile(path):
            self._download(("inputs", source, name), path)
        return open(path, "rb")

    def save_output(self, name, dump):
        size = self.local.save_output(name, dump)
        self._upload(("vars", name), self.local.output_where(name))
        return size

    def output_where(self, name):
        return self._url("vars", name)

    def publish(self, what, path, retry_seconds=None):
        """Uploads a file the run wrote locally: `what` is "notebook", "result" or "files/<rel>"."""
        parts = tuple(what.split("/"))
        self._upload(parts, path, retry_seconds)

    # ---- HTTP --------------------------------------------------------------------------------------

    def _url(self, *parts):
        return "%s/%s/%s/%d/%s" % (
            self.url,
            _quote(self.job_id),
            _quote(self.task_name),
            self.attempt,
            "/".join(_quote(p) for p in parts),
        )

    def _path(self, parts):
        return "%s/%s" % (self._prefix, "/".join(_quote(p) for p in parts))

    def _headers(self):
        if self._token is None:
            try:
                with open(self.token_file, "r") as f:
                    self._token = f.read().strip()
            except OSError as e:
                raise ServerStoreError("cannot read the attempt's token %s: %s" % (self.token_file, e.strerror or e))
        return {"Authorization": "Bearer " + self._token}

    def _connection(self):
        import http.client

        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=SOCKET_TIMEOUT, blocksize=CHUNK)
        return http.client.HTTPConnection(self._host, self._port, timeout=SOCKET_TIMEOUT, blocksize=CHUNK)

    def _retrying(self, what, once, retry_seconds=None):
        """Runs once() until it returns, retrying _Retry failures with backoff for retry_seconds."""
        budget = self.retry_seconds if retry_seconds is None else retry_seconds
        deadline = time.monotonic() + budget
        delay = 0.25
        told = False
        while True:
            try:
                return once()
            except _Retry as e:
                if time.monotonic() + delay > deadline:
                    raise ServerStoreError("%s: the server could not be reached for %d s: %s" % (what, budget, e))
                if not told:
                    # The runner's log (the pod's), not the cell's output.
                    _log("%s: the server is not answering (%s); trying again for up to %d s" % (what, e, budget))
                    told = True
                time.sleep(delay)
                delay = min(delay * 2, MAX_DELAY)

    def _exchange(self, method, parts, body=None, size=0, headers=None):
        """One request; returns (status, response) with the response unread, or raises _Retry."""
        import http.client
        import socket

        conn = self._connection()
        all_headers = self._headers()
        all_headers.update(headers or {})
        try:
            if body is not None:
                all_headers["Content-Length"] = str(size)
                all_headers["Content-Type"] = "application/octet-stream"
            conn.request(method, self._path(parts), body=body, headers=all_headers)
            response = conn.getresponse()
        except (ConnectionError, http.client.HTTPException, socket.timeout) as e:
            conn.close()
            raise _Retry("%s: %s" % (type(e).__name__, e))
        except OSError as e:
            conn.close()
            # The network is not there yet (unreachable, no route, a name that does not resolve yet).
            raise _Retry("%s: %s" % (type(e).__name__, e))
        if response.status in RETRY_STATUSES:
            body_text = response.read()
            conn.close()
            raise _Retry(_server_message(response.status, body_text))
        return conn, response

    def _upload(self, parts, path, retry_seconds=None):
        what = "uploading %s" % "/".join(parts)

        def once():
            size = os.path.getsize(path)
            with open(path, "rb") as f:
                conn, response = self._exchange("PUT", parts, body=f, size=size)
            try:
                body = response.read()
            except Exception as e:
                raise _Retry("%s: %s" % (type(e).__name__, e))
            finally:
                conn.close()
            if response.status // 100 != 2:
                raise ServerStoreError("%s: %s" % (what, _server_message(response.status, body)), response.status)

        self._retrying(what, once, retry_seconds)

    def _download(self, parts, path):
        import http.client
        import socket

        what = "downloading %s" % "/".join(parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        part = path + ".part"

        def once():
            have = os.path.getsize(part) if os.path.exists(part) else 0
            headers = {"Range": "bytes=%d-" % have} if have else {}
            conn, response = self._exchange("GET", parts, headers=headers)
            try:
                if response.status == 416:
                    # What was kept is not a prefix of the file (it is all of it, or more): start over.
                    os.unlink(part)
                    raise _Retry("the partial download did not fit the file")
                if response.status == 404:
                    raise FileNotFoundError(errno.ENOENT, _server_message(404, response.read()), self.where(*parts[1:]))
                if response.status not in (200, 206):
                    raise ServerStoreError(
                        "%s: %s" % (what, _server_message(response.status, response.read())), response.status
                    )
                # 200: the whole file (the server ignored the range); 206: the rest of it.
                length = response.getheader("Content-Length")
                expected = int(length) if length and length.isdigit() else None
                got = 0
                with open(part, "ab" if response.status == 206 else "wb") as f:
                    while True:
                        chunk = response.read(CHUNK)
                        if not chunk:
                            break
                        f.write(chunk)
                        got += len(chunk)
                if expected is not None and got < expected:
                    # http.client returns a short body without complaint: what came is kept and resumed.
                    raise _Retry("the transfer broke off after %d of %d bytes" % (got, expected))
            except (ConnectionError, http.client.HTTPException, socket.timeout) as e:
                raise _Retry("%s: %s" % (type(e).__name__, e))
            finally:
                conn.close()

        self._retrying(what, once)
        os.replace(part, path)


def _log(message):
    stream = sys.__stderr__
    if stream is not None:
        try:
            stream.write("[cellpipe] %s\n" % message)
            stream.flush()
        except Exception:
            pass
