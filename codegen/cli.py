"""``oairef codegen [--spec spec/openai.yaml] [--out generated] [--check] [--strict | --no-strict]``.

Strict mode (oairef's own spec; always with ``--check``, which CI runs) applies every rule of
``codegen.spec``: OpenAPI 3.1 only, no ``nullable``, an ``x-oairef-method`` on every operation.
Any other spec is read leniently unless ``--strict`` is given: 3.0 forms are upgraded, method paths
are derived where ``x-oairef-method`` is absent, other request media types become raw bodies.

Exit status: 0 when written (or, with ``--check``, when ``generated/`` is current); 1 when
``--check`` finds it stale (a short summary of the differing files is printed); 2 when the spec
is malformed (the message names the JSON pointer of the fault) or cannot be read. Errors are
one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spec", default="spec/openai.yaml", type=Path,
                        help="OpenAPI spec to generate from (default: spec/openai.yaml)")
    parser.add_argument("--out", default="generated", type=Path,
                        help="output package directory (default: generated)")
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 when the output directory is stale")
    parser.add_argument("--strict", action=argparse.BooleanOptionalAction, default=None,
                        help="apply oairef's own spec rules (default: on for spec/openai.yaml and with --check, "
                             "off for other specs)")
    parser.add_argument("--quiet", action="store_true", help="print only errors and the check summary")


DEFAULT_SPEC = Path("spec/openai.yaml")


def strict_mode(args: argparse.Namespace) -> bool:
    """Whether to read the spec strictly: as asked, else for our own spec or under ``--check``."""
    if args.strict is not None:
        return bool(args.strict)
    own = Path(args.spec).resolve() == DEFAULT_SPEC.resolve()
    return own or bool(args.check)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from codegen.modelgen import ModelGenerationError
    from codegen.pipeline import build, compare, write
    from codegen.spec import SpecError, load_spec

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    out = Console(highlight=False, soft_wrap=True)
    started = time.perf_counter()
    strict = strict_mode(args)
    try:
        status = err.status(f"generating from {args.spec} ({'strict' if strict else 'lenient'}) ...", spinner="dots")
        with contextlib.nullcontext() if args.quiet else status:
            spec = load_spec(args.spec, strict=strict)
            files = build(spec, strict=strict)
    except SpecError as exc:
        pointer = getattr(exc, "pointer", "") or "/"
        message = getattr(exc, "message", str(exc))
        err.print(f"oairef codegen: malformed spec {args.spec} at {pointer}: {message}", markup=False)
        return 2
    except ModelGenerationError as exc:
        err.print(f"oairef codegen: {exc}", markup=False)
        return 2
    except OSError as exc:
        err.print(f"oairef codegen: {exc.strerror or exc}: {exc.filename or args.spec}", markup=False)
        return 2
    except Exception as exc:  # a spec shape no check caught: still no traceback for the user
        err.print(f"oairef codegen: cannot generate from {args.spec}: {type(exc).__name__}: {exc}", markup=False)
        return 2
    elapsed = time.perf_counter() - started
    if args.check:
        diffs = compare(files, args.out)
        if diffs:
            out.print(f"{args.out} is stale ({len(diffs)} file(s)); run `oairef codegen`:", markup=False)
            for diff in diffs[:20]:
                out.print(f"  {diff.describe()}", markup=False)
            if len(diffs) > 20:
                out.print(f"  ... and {len(diffs) - 20} more", markup=False)
            return 1
        if not args.quiet:
            out.print(f"{args.out} is current ({len(files)} files, {elapsed:.1f} s)", markup=False)
        return 0
    touched = write(files, args.out)
    if not args.quiet:
        out.print(f"wrote {len(touched)} of {len(files)} files to {args.out} in {elapsed:.1f} s", markup=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="oairef codegen")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
