"""The local web server: the page, its static files and the JSON API.

Built on the standard library's ``ThreadingHTTPServer``: the page is three static files and
the API two POST routes, which a framework would not shorten, and the server then needs
no package beyond the core ones. Each request is served in a thread; derivations run in
worker processes with a time limit (:mod:`matdiff.web.worker`).

>>> server = make_server(port=0, workers=1)
>>> server.server_address[0]
'127.0.0.1'
>>> server.server_close()
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import urlsplit

from .api import ApiError
from .worker import WorkerPool

__all__ = ["make_server", "serve_in_thread", "MatdiffServer", "MAX_BODY"]

#: Largest request body the API reads, in bytes.
MAX_BODY = 64 * 1024

_STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/style.css": ("style.css", "text/css; charset=utf-8"),
}
_ROUTES = {"/api/parse": "parse", "/api/derivative": "derivative"}
# Scripts only from the server itself; the graph's SVG and the MathML are inserted as
# markup, so inline scripts and handlers in them would not run either.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def _static(name: str) -> bytes:
    return resources.files("matdiff.web").joinpath("static", name).read_bytes()


class Handler(BaseHTTPRequestHandler):
    server: MatdiffServer
    server_version = "matdiff"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:
        if not self.server.quiet:
            super().log_message(format, *args)

    # -- answers
    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", _CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: dict) -> None:
        self._send(status, json.dumps(data).encode("utf-8"), "application/json")

    def _error(self, err: ApiError) -> None:
        self._json(err.status, err.to_json())

    def _host_allowed(self) -> bool:
        # A page on another site could make the browser send requests to a name that
        # resolves to 127.0.0.1 (DNS rebinding); a loopback server answers only loopback names.
        if not self.server.loopback_only:
            return True
        host = self.headers.get("Host", "")
        name = urlsplit("//" + host).hostname or ""
        return name in _LOOPBACK

    # -- methods
    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if not self._host_allowed():
            return self._error(ApiError(403, "request", "unknown Host for a local server"))
        path = urlsplit(self.path).path
        if path in _STATIC:
            name, content_type = _STATIC[path]
            return self._send(200, _static(name), content_type)
        if path in _ROUTES:
            return self._error(ApiError(405, "request", f"{path} takes POST with a JSON body"))
        return self._error(ApiError(404, "request", f"no page {path}"))

    def do_POST(self) -> None:
        if not self._host_allowed():
            return self._error(ApiError(403, "request", "unknown Host for a local server"))
        path = urlsplit(self.path).path
        operation = _ROUTES.get(path)
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            return self._error(ApiError(411, "request", "a Content-Length header is needed"))
        if length > MAX_BODY or length < 0:
            # the body is not read, so the connection cannot carry another request
            self.close_connection = True
            return self._error(
                ApiError(413, "limit", f"the request body is larger than {MAX_BODY} bytes")
            )
        body = self.rfile.read(length)
        if operation is None:
            return self._error(ApiError(404, "request", f"no API route {path}"))
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            return self._error(ApiError(400, "request", f"the body is not JSON: {err}"))
        if not isinstance(payload, dict):
            return self._error(ApiError(400, "request", "the request body must be a JSON object"))
        try:
            answer = self.server.pool.call(operation, payload)
        except ApiError as err:
            return self._error(err)
        self._json(200, answer)


class MatdiffServer(ThreadingHTTPServer):
    """The HTTP server with its worker pool; ``close()`` stops both."""

    daemon_threads = True

    def __init__(self, address, pool: WorkerPool | None, quiet: bool = False) -> None:
        self.pool = pool
        self.quiet = quiet
        self.loopback_only = address[0] in _LOOPBACK
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def close(self) -> None:
        self.shutdown()
        self.server_close()

    def server_close(self) -> None:
        super().server_close()
        if self.pool is not None:
            self.pool.close()


def make_server(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 2,
    timeout: float = 10.0,
    quiet: bool = False,
) -> MatdiffServer:
    """A server bound to ``host:port`` (port 0 picks a free one); ``serve_forever()`` runs it."""
    # bind first, so that a taken port fails before any worker starts
    server = MatdiffServer((host, port), None, quiet)
    try:
        server.pool = WorkerPool(workers, timeout)
    except BaseException:
        server.server_close()
        raise
    return server


def serve_in_thread(**options) -> MatdiffServer:
    """A server answering from a daemon thread (for tests and notebooks); ``close()`` it."""
    server = make_server(**options)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
