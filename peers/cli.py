"""``oairef peers``: install, start and validate real third-party servers side by side.

Examples::

    oairef peers list                        # the peers, their launch commands and the cache folder
    oairef peers install vllm                # venv + model conversion once (cache: $OAIREF_PEERS_CACHE)
    oairef peers report llama-server         # docs/reports/llama-server.{md,json} + pictures + README matrix
    oairef peers report all                  # every peer, one after the other
    oairef peers render all                  # re-apply peers/findings/ to the reports (no validation)
    oairef peers serve vllm                  # start it, print its URL, stop on Ctrl-C

Exit status: 0 done, 1 a peer failed to install or start, 2 usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

from peers.cache import InstallError, cache_root
from peers.process import StartError
from peers.registry import PEERS, get

#: Bound on ``oairef peers serve`` without Ctrl-C (seconds).
SERVE_LIMIT_S = 8 * 3600


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``oairef peers``."""
    sub = parser.add_subparsers(dest="peers_command", metavar="ACTION")
    sub.required = True
    names = ", ".join(PEERS)
    sub.add_parser("list", help="list the peers")
    p = sub.add_parser("install", help="install a peer (idempotent)")
    p.add_argument("name", help=f"one of {names}, or all")
    p = sub.add_parser("report", help="validate a peer and regenerate docs/reports/<peer>.md + JSON + PNGs")
    p.add_argument("name", help=f"one of {names}, or all")
    p.add_argument("--checks", default=None, metavar="GLOB",
                   help="globs of check ids (default: all; a partial run writes its report under the cache "
                        "folder, leaving docs/reports/ and the README matrix alone)")
    p.add_argument("--samples", type=int, default=None, help="samples per statistical test (default: per peer)")
    p.add_argument("--seed", type=int, default=0, help="seed of the validator's requests (default 0)")
    p = sub.add_parser("render", help="re-apply peers/findings/ to the committed reports and the README matrix "
                                      "without validating again")
    p.add_argument("name", help=f"one of {names}, or all")
    p = sub.add_parser("serve", help="start a peer on a free loopback port and print its URL")
    p.add_argument("name", help=f"one of {names} (one peer)")


def _names(arg: str) -> list[str]:
    return list(PEERS) if arg == "all" else [get(arg).name]


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    err = Console(stderr=True)
    try:
        names = _names(args.name) if hasattr(args, "name") else []
    except KeyError as exc:
        err.print(f"oairef peers: {exc.args[0]}", markup=False)
        return 2
    if args.peers_command == "list":
        for p in PEERS.values():
            print(f"{p.name:18} {p.launch}")
        print(f"cache: {cache_root()}")
        return 0
    if args.peers_command == "serve" and args.name == "all":
        err.print(f"oairef peers serve: name one peer ({', '.join(PEERS)})", markup=False)
        return 2
    if args.peers_command == "report":
        from validator.cli import checks_problems, samples_and_seed_problems

        problems = samples_and_seed_problems(args.samples, args.seed) + checks_problems(args.checks)
        for problem in problems:
            err.print(f"oairef peers report: {problem}", markup=False)
        if problems:
            return 2
    status = 0
    for name in names:
        try:
            if args.peers_command == "install":
                t0 = time.monotonic()
                PEERS[name].load().install()
                err.print(f"{name}: installed ({time.monotonic() - t0:.0f} s)")
            elif args.peers_command == "serve":
                return _serve(name)
            elif args.peers_command == "render":
                from peers.matrix import update_readme
                from peers.report import refresh_findings

                if refresh_findings(PEERS[name]):
                    update_readme()
                    err.print(f"{name}: findings re-applied to {PEERS[name].report_md}")
            else:
                _report(name, args)
        except (InstallError, StartError, FileNotFoundError) as exc:
            err.print(f"oairef peers {args.peers_command} {name}: {exc}", markup=False)
            status = 1
    return status


def _report(name: str, args: argparse.Namespace) -> None:
    """Validate ``name`` and write its report: into docs/reports/ (and the README matrix) for a run of the
    whole catalogue, under the cache folder for a partial ``--checks`` run."""
    import dataclasses

    from peers.matrix import update_readme
    from peers.report import validate_peer, write
    from validator.checks import REGISTRY
    from validator.report import results_table, table_console
    from validator.runner import select

    peer = PEERS[name]
    if {c.id for c in select(args.checks)} < set(REGISTRY):
        peer = dataclasses.replace(peer, reports=cache_root() / "reports")
    pr = validate_peer(peer, checks=args.checks, samples=args.samples, seed=args.seed)
    path = write(pr)
    console = table_console(stderr=True)
    console.print(results_table(pr.run, width=console.width))
    if peer.reports != PEERS[name].reports:
        print(f"{name}: partial run (--checks): wrote {path}; docs/reports/ and the README are unchanged")
        return
    updated = update_readme()
    print(f"{name}: wrote {path} (install {pr.install_s:.0f} s, start {pr.start_s:.1f} s, validate "
          f"{pr.validate_s:.0f} s){'; README matrix updated' if updated else ''}", file=sys.stderr)


def _serve(name: str) -> int:
    mod = PEERS[name].load()
    mod.install()
    with mod.start() as running:
        print(f"{name} serving at {running.base_url} (log {running.log}); Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            time.sleep(SERVE_LIMIT_S)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="oairef peers", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
