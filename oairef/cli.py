"""The `oairef` command: parses arguments and hands them to the package that does the work.

Each subcommand lives in its package as a module exposing ``add_arguments(parser)`` and
``run(args) -> int``. Building the parser imports every such module, so each keeps its heavy
imports inside ``run`` (or an option's check): ``oairef codegen`` never pays for numba or uvicorn.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

#: subcommand -> (module implementing it, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "codegen": ("codegen.cli", "regenerate generated/ from spec/openai.yaml (or --check it is current)"),
    "serve": ("provider.cli", "run the reference OpenAI-compatible provider"),
    "validate": ("validator.cli", "check a provider against the documented sampling semantics"),
    "peers": ("peers.cli", "install, start and validate real peers (vLLM, llama.cpp, ...) side by side"),
    "bench": ("benchmarks.cli", "benchmark sampling speed against numpy, torch and llama.cpp"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oairef",
        description="Reference toolkit for the OpenAI API's sampling semantics.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        sp.set_defaults(_module=module_name)
        importlib.import_module(module_name).add_arguments(sp)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    module = importlib.import_module(args._module)
    if args.command == "validate" and args.base_url is None and not args.list:
        return _validate_embedded(module, args)
    return int(module.run(args) or 0)


def _validate_embedded(module: ModuleType, args: argparse.Namespace) -> int:
    """``oairef validate`` without ``--base-url``: the embedded reference provider (tiny model) is the
    target for the duration of the run (the validator itself never imports the provider)."""
    if module.usage_problems(args):
        return int(module.run(args) or 0)  # reports the usage problems without starting anything
    from provider.app import run_in_thread

    with contextlib.ExitStack() as stack:
        try:
            args.base_url = stack.enter_context(run_in_thread("tiny"))
        except RuntimeError as exc:
            print(f"oairef validate: the embedded provider did not start: {exc}", file=sys.stderr)
            return 2
        return int(module.run(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
