"""A small HTTP proxy in front of the real API server that can inject faults and records every request.

The client speaks plain HTTP to the proxy on 127.0.0.1; the proxy speaks TLS to the
API server with the kubeconfig's client certificate, so whatever goes through it acts
as the kubeconfig's user. Responses are streamed, chunk by chunk as the server sends
them (watches work), and each connection is closed after one response, which keeps the
proxy simple. At most ``max_threads`` requests are handled at once.
"""

from __future__ import annotations

import http.client
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from .support import KubeconfigParts

#: Headers that describe one hop, not the message: never passed on.
HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "host"}
)


@dataclass(frozen=True)
class Fault:
    """An answer the proxy gives instead of the API server's.

    Attributes:
        status: The HTTP status to answer.
        retry_after: The ``Retry-After`` header, if any.
        forward: Pass the request on first and throw the real answer away (a response
            lost on the way back: the server did the work, the client does not know).
    """

    status: int
    retry_after: str | None = None
    forward: bool = False


@dataclass(frozen=True)
class Seen:
    """One request as the proxy saw it."""

    at: float
    method: str
    path: str
    status: int
    forwarded: bool


class FaultProxy:
    """Answer the first requests that ``match`` with ``faults`` (in order), forward everything else.

    Args:
        parts: Where the API server is and the credentials to use there.
        faults: The answers to inject, one per matching request, first request first.
        match: Which requests faults apply to, as ``match(method, path)``. Default: all.
        max_threads: Requests handled at once; more wait for a free slot.
    """

    def __init__(
        self,
        parts: KubeconfigParts,
        faults: Sequence[Fault] = (),
        *,
        match: Callable[[str, str], bool] = lambda method, path: True,
        max_threads: int = 8,
    ) -> None:
        target = urlsplit(parts.server)
        self.target_host = target.hostname or "127.0.0.1"
        self.target_port = target.port or 443
        self.tls = ssl.create_default_context(cafile=parts.ca_file)
        if parts.cert_file and parts.key_file:
            self.tls.load_cert_chain(parts.cert_file, parts.key_file)
        self.pending = list(faults)
        self.match = match
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.server = _Server(self, max_threads)
        self.thread = threading.Thread(target=self.server.serve_forever, name="fault-proxy", daemon=True)

    @property
    def url(self) -> str:
        """The proxy's address (``http://127.0.0.1:<port>``)."""
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def requests(self, method: str | None = None, contains: str = "") -> list[Seen]:
        """Return the requests seen so far, optionally only those of ``method`` whose path contains ``contains``."""
        with self.lock:
            return [s for s in self.seen if (method is None or s.method == method) and contains in s.path]

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            if self.pending and self.match(method, path):
                return self.pending.pop(0)
        return None

    def _record(self, method: str, path: str, status: int, forwarded: bool) -> None:
        with self.lock:
            self.seen.append(Seen(time.monotonic(), method, path, status, forwarded))


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, proxy: FaultProxy, max_threads: int) -> None:
        self.proxy = proxy
        self.slots = threading.BoundedSemaphore(max_threads)
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.slots.acquire()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 for chunked answers (a client reads a watch event as soon as its chunk
    # arrives); one response per connection, then close.
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        proxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        fault = proxy._take_fault(self.command, self.path)
        if fault is not None and not fault.forward:
            proxy._record(self.command, self.path, fault.status, forwarded=False)
            self._answer_fault(fault)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
        upstream = http.client.HTTPSConnection(proxy.target_host, proxy.target_port, context=proxy.tls, timeout=330)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            if fault is not None:
                response.read()
                proxy._record(self.command, self.path, fault.status, forwarded=True)
                self._answer_fault(fault)
                return
            proxy._record(self.command, self.path, response.status, forwarded=True)
            self.send_response(response.status, response.reason)
            for key, value in response.getheaders():
                if key.lower() not in HOP_HEADERS:
                    self.send_header(key, value)
            chunked = response.getheader("Content-Length") is None
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            while chunk := response.read1(64 * 1024):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                self.wfile.flush()
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (OSError, http.client.HTTPException):
            # The client went away (a watch it stopped reading), or the server did.
            self.close_connection = True
        finally:
            self.close_connection = True
            upstream.close()

    def _answer_fault(self, fault: Fault) -> None:
        text = (
            b'{"kind":"Status","apiVersion":"v1","status":"Failure","message":"injected by the e2e fault proxy",'
            b'"code":' + str(fault.status).encode() + b"}"
        )
        self.close_connection = True
        self.send_response(fault.status)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(text)))
        if fault.retry_after is not None:
            self.send_header("Retry-After", fault.retry_after)
        self.end_headers()
        self.wfile.write(text)


def proxied_api(proxy: FaultProxy) -> Any:
    """Return a ``kubernetes`` ApiClient that sends everything through ``proxy`` (plain HTTP, no credentials).

    urllib3's own retries are off, as in the clients the library builds itself, so only
    the library's retry policy is at work.
    """
    from kubernetes import client as k8s

    configuration = k8s.Configuration()
    configuration.host = proxy.url
    configuration.retries = False
    return k8s.ApiClient(configuration)
