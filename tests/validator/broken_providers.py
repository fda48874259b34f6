"""Small real servers on 127.0.0.1 that misbehave the ways a provider can: for ``oairef validate``'s
"a verdict on a broken provider, fast" (issue 12, item 4).

Each is a plain TCP server (one thread per connection) that reads an HTTP request and answers it
badly: ``silent`` (accepts and never answers), ``stops_answering`` (lists its model, then never answers),
``drip`` (the whole response, headers included, one byte
every 0.2 s), ``huge`` (a 64 MB JSON body), ``invalid_json``, ``hangup`` (closes mid-body),
``wrong_shape`` (200 with JSON that is not an OpenAI body); and proxies to the reference provider that
misbehave on some requests: ``endless_stream`` (streams never end: chunks as fast as the socket takes
them, no [DONE]), ``endless_line`` (a stream of one line without end) and ``busy`` (429 with
``retry-after-ms`` the first time each request is seen).

``python -m tests.validator.broken_providers`` times ``oairef validate`` (default settings and
``--quick``) against each; the tests assert the verdicts and the bounded work, never seconds.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterator

import httpx

Handler = Callable[[socket.socket, str, str, bytes, threading.Event], None]
MODELS = {"object": "list", "data": [{"id": "m", "object": "model", "created": 0, "owned_by": "test"}]}
HUGE_BYTES = 64 * 1024 * 1024


def _response(status: int, body: bytes, content_type: str = "application/json") -> bytes:
    head = (f"HTTP/1.1 {status} OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            "Connection: keep-alive\r\n\r\n")
    return head.encode() + body


def _read_request(sock: socket.socket) -> tuple[str, str, bytes] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        rest += chunk
    return method, path, rest[:length]


@contextlib.contextmanager
def serve(handler: Handler) -> Iterator[str]:
    """Run ``handler(sock, method, path, body, stop)`` per request on a free loopback port; yield ``.../v1``."""
    stop = threading.Event()

    class H(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            sock = self.request
            try:
                while not stop.is_set():
                    req = _read_request(sock)
                    if req is None:
                        return
                    handler(sock, *req, stop)
            except OSError:
                return

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(("127.0.0.1", 0), H)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------------------ behaviours
def silent(sock: socket.socket, method: str, path: str, body: bytes, stop: threading.Event) -> None:
    stop.wait(600)  # bounded: the server's stop releases it


def stops_answering(sock: socket.socket, method: str, path: str, body: bytes, stop: threading.Event) -> None:
    """Lists its model, then never answers a generation request."""
    if path.endswith("/models"):
        sock.sendall(_response(200, json.dumps(MODELS).encode()))
        return
    stop.wait(600)


def drip(sock: socket.socket, method: str, path: str, body: bytes, stop: threading.Event) -> None:
    for b in _response(200, json.dumps(MODELS).encode() + b" " * 4096):
        if stop.wait(0.2):
            return
        sock.sendall(bytes([b]))


def huge(sock: socket.socket, method: str, path: str, body: bytes, stop: threading.Event) -> None:
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {HUGE_BYTES}\r\n\r\n").encode()
    sock.sendall(head + b'{"choices": [' + b" " * 65536)
    block = b" " * (1 << 20)
    sent = 65536 + 13
    while sent < HUGE_BYTES - len(block) and not stop.is_set():
        sock.sendall(block)  # the client hangs up after its cap: OSError ends the handler
        sent += len(block)
    sock.sendall(b" " * (HUGE_BYTES - sent - 2) + b"]}")


def invalid_json(sock: socket.socket, method: str, path: str, body: bytes, stop: threading.Event) -> None:
    sock.sendall(_response(200, b'{"object": "list", "data": [{"id": "m",'))


def hangup(sock: socket.socket, method: str, path: str, body: bytes, stop: threading.Event) -> None:
    full = _response(200, json.dumps(MODELS).encode())
    sock.sendall(full[: len(full) - 20])
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    raise OSError("hung up")


def wrong_shape(sock: socket.socket, method: str, path: str, body: bytes, stop: threading.Event) -> None:
    payload = MODELS if path.endswith("/models") else {"result": "ok", "choices": "none", "error": 3}
    sock.sendall(_response(200, json.dumps(payload).encode()))


def _proxy(upstream: str, client: httpx.Client, sock: socket.socket, method: str, path: str, body: bytes) -> None:
    """Forward one request to ``upstream`` (a working provider) and send its answer back."""
    r = client.request(method, upstream.removesuffix("/v1") + path, content=body,
                       headers={"Content-Type": "application/json"})
    sock.sendall(_response(r.status_code, r.content, r.headers.get("content-type", "application/json")))


def _stream_head(sock: socket.socket) -> None:
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")


def _send_chunk(sock: socket.socket, data: bytes) -> None:
    sock.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")


StreamAnswer = Callable[[socket.socket, str, dict, threading.Event], None]


def _streams_differently(upstream: str, answer: StreamAnswer) -> Handler:
    """Forward every request to ``upstream``, except that a ``stream: true`` request is answered by
    ``answer(sock, path, request, stop)`` after the response head."""
    client = httpx.Client(timeout=60)

    def handle(sock: socket.socket, method: str, path: str, body: bytes, stop: threading.Event) -> None:
        req = json.loads(body) if body else {}
        if not (isinstance(req, dict) and req.get("stream") is True):
            _proxy(upstream, client, sock, method, path, body)
            return
        _stream_head(sock)
        answer(sock, path, req, stop)

    return handle


def _endless_events(sock: socket.socket, path: str, req: dict, stop: threading.Event) -> None:
    chat = "chat" in path
    for _ in range(100_000):
        if stop.is_set():
            return
        piece = ({"delta": {"content": "a"}} if chat else {"text": "a"}) | {"index": 0, "finish_reason": None}
        chunk = {"id": "x", "object": "chat.completion.chunk" if chat else "text_completion", "created": 0,
                 "model": req.get("model"), "choices": [piece]}
        _send_chunk(sock, f"data: {json.dumps(chunk)}\n\n".encode())


def _endless_line(sock: socket.socket, path: str, req: dict, stop: threading.Event) -> None:
    _send_chunk(sock, b"data: ")
    block = b"a" * (1 << 20)
    for _ in range(HUGE_BYTES // len(block)):
        if stop.is_set():
            return
        _send_chunk(sock, block)


def endless_stream(upstream: str) -> Handler:
    """Streams get well-formed chunks as fast as the socket takes them and never [DONE] (bounded:
    100,000 events, or the client hangs up at its event cap); the rest goes to ``upstream``."""
    return _streams_differently(upstream, _endless_events)


def endless_line(upstream: str) -> Handler:
    """Streams get one line that never ends: ``data: aaaa...`` without a newline, up to 64 MB (a client
    must cut it at its byte cap); the rest goes to ``upstream``."""
    return _streams_differently(upstream, _endless_line)


def busy(upstream: str) -> Handler:
    """Forward every request to ``upstream``, but answer each distinct request 429 (``retry-after-ms: 20``)
    the first time it is seen — a provider at its concurrency limit, which a client should wait out."""
    client = httpx.Client(timeout=60)
    seen: set[tuple[str, bytes]] = set()
    lock = threading.Lock()

    def handle(sock: socket.socket, method: str, path: str, body: bytes, stop: threading.Event) -> None:
        with lock:
            first = (path, body) not in seen
            seen.add((path, body))
        if first and method == "POST":
            error = {"error": {"message": "busy", "type": "rate_limit_error", "param": None, "code": None}}
            payload = json.dumps(error).encode()
            sock.sendall((f"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nretry-after-ms: 20\r\n"
                          f"Content-Length: {len(payload)}\r\nConnection: keep-alive\r\n\r\n").encode() + payload)
            return
        _proxy(upstream, client, sock, method, path, body)

    return handle


BEHAVIOURS: dict[str, Handler] = {
    "silent": silent, "stops_answering": stops_answering, "drip": drip, "huge": huge, "invalid_json": invalid_json, "hangup": hangup,
    "wrong_shape": wrong_shape,
}


@contextlib.contextmanager
def broken(name: str) -> Iterator[str]:
    """The broken provider ``name`` (one of :data:`BEHAVIOURS` or :data:`PROXIES`) on loopback."""
    if name in PROXIES:
        from provider.app import run_in_thread

        with run_in_thread("tiny") as upstream, serve(PROXIES[name](upstream)) as url:
            yield url
        return
    with serve(BEHAVIOURS[name]) as url:
        yield url


#: Proxies to the reference provider (tiny model) that misbehave on some requests only.
PROXIES: dict[str, Callable[[str], Handler]] = {"endless_stream": endless_stream, "endless_line": endless_line,
                                                 "busy": busy}
NAMES = (*BEHAVIOURS, *PROXIES)


def main() -> int:
    """Time ``oairef validate`` (--quick and default) against each broken provider."""
    from oairef.cli import main as oairef_main

    for name in NAMES:
        for quick in (True, False):
            with broken(name) as url:
                t0 = time.perf_counter()
                model = ["--model", "tiny" if name in PROXIES else "m"]
                code = oairef_main(["validate", "--base-url", url, *model, *(["--quick"] if quick else []),
                                    "--json", "/tmp/broken.json", "--markdown", "/tmp/broken.md"])
                print(f"{name:15} {'--quick' if quick else 'default':8} exit {code}  {time.perf_counter() - t0:7.1f} s",
                      file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
