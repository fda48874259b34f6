"""A small scripted HTTP server on 127.0.0.1 (OS-assigned port) for client tests.

Each route holds a queue of replies consumed in order (the last one repeats). A reply is JSON, raw
bytes, or an SSE stream; it may wait before answering (for timeouts) and, for streams, keep
trickling events after the script until the client hangs up, which the server records. Every
request is recorded (method, path, query, headers, body). Nothing here is a mock of ``requests``:
the client under test talks real HTTP over a real socket.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

#: the key test clients use; tests assert it never leaks
API_KEY = "sk-test-SECRET-0123456789abcdef"


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    sse: list[str] | None = None  # raw SSE frames, written one by one
    trickle: int = 0  # after the frames, write up to this many keep-alive events (detects hang-up)
    delay: float = 0.0


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


class ScriptedServer:
    """Routes ``(method, path)`` to queues of replies; see the module docstring."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Reply | Callable[[Recorded], Reply]]] = {}
        self.requests: list[Recorded] = []
        self.hung_up = threading.Event()  # a streaming client closed the connection early
        self.stream_finished = threading.Event()  # a stream's trickle ran out without a hang-up
        self._lock = threading.Lock()
        self.url = ""

    def add(self, method: str, path: str, *replies: Reply | Callable[[Recorded], Reply]) -> None:
        self.routes[(method.upper(), path)] = list(replies)

    def _next(self, rec: Recorded) -> Reply:
        with self._lock:
            self.requests.append(rec)
            queue = self.routes.get((rec.method, rec.path))
            if not queue:
                return Reply(404, json={"error": {"message": f"no route {rec.method} {rec.path}",
                                                  "type": "invalid_request_error", "param": None, "code": None}})
            item = queue.pop(0) if len(queue) > 1 else queue[0]
        return item(rec) if callable(item) else item

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                rec = Recorded(self.command, parts.path, parse_qs(parts.query),
                               {k.lower(): v for k, v in self.headers.items()}, body)
                reply = server._next(rec)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    if reply.sse is not None:
                        self._stream(reply)
                    else:
                        self._plain(reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _plain(self, reply: Reply) -> None:
                data = reply.body if reply.body is not None else json.dumps(reply.json).encode()
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, reply: Reply) -> None:
                self.send_response(reply.status)
                self.send_header("Content-Type", "text/event-stream")
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                for frame in reply.sse or []:
                    self.wfile.write(frame.encode())
                    self.wfile.flush()
                for _ in range(reply.trickle):
                    time.sleep(0.02)
                    try:
                        self.wfile.write(b": keep-alive\n\n")
                        self.wfile.flush()
                    except (BrokenPipeError, ConnectionResetError):
                        server.hung_up.set()
                        return
                if reply.trickle:
                    server.stream_finished.set()

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

        return Handler


@contextmanager
def scripted_server() -> Iterator[ScriptedServer]:
    """A running ``ScriptedServer``; ``.url`` is ``http://127.0.0.1:PORT/v1``."""
    script = ScriptedServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), script.handler())
    httpd.daemon_threads = True
    script.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield script
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
