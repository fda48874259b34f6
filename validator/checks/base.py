"""The check registry: what a check is, how it is registered, and how it covers both endpoints.

A check is a function ``fn(ctx) -> Outcome`` registered with :func:`check`. It declares an id
(``family.name``), the documentation rule it tests (quoted from the API docs in ``shared/seeds``),
and its method. Inside, it talks to the provider only through ``ctx`` (``validator.context``).

A check that applies to both endpoints runs its body once per endpoint through :func:`per_endpoint`:
each endpoint gets a :class:`Part` (its own verdict, summary and method), every sub-test and failure
is named after its endpoint, and an endpoint the provider does not have is ``unsupported`` with the
reason, never a failure.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from validator.context import (
    FAIL,
    SKIPPED,
    UNSUPPORTED,
    Context,
    Outcome,
    Part,
    ProviderError,
    Skipped,
    Unsupported,
)
from validator.discovery import endpoint_missing
from validator.endpoints import ENDPOINT_NAMES, ENDPOINTS, Endpoint


@dataclass(frozen=True)
class Check:
    """A registered check."""

    id: str
    title: str
    rule: str
    method: str
    fn: Callable[[Context], Outcome]
    statistical: bool = False
    endpoints: tuple[str, ...] = ENDPOINT_NAMES


REGISTRY: dict[str, Check] = {}


def check(
    id: str, title: str, rule: str, method: str, statistical: bool = False,
    endpoints: Sequence[str] = ENDPOINT_NAMES,
) -> Callable[[Callable[[Context], Outcome]], Callable[[Context], Outcome]]:
    """Register ``fn`` as check ``id`` (unique); ``endpoints`` are the ones it covers."""

    def deco(fn: Callable[[Context], Outcome]) -> Callable[[Context], Outcome]:
        if id in REGISTRY:
            raise ValueError(f"duplicate check id {id}")
        REGISTRY[id] = Check(id, title, rule.strip(), " ".join(method.split()), fn, statistical, tuple(endpoints))
        return fn

    return deco


def per_endpoint(ctx: Context, body: Callable[[Context, Endpoint], Outcome],
                 endpoints: Sequence[str] = ENDPOINT_NAMES) -> Outcome:
    """Run ``body`` for each of ``endpoints`` the run selects and merge the results into one outcome.

    An endpoint the provider lacks, or a body raising :class:`Unsupported`, :class:`Skipped` or
    :class:`ProviderError`, gives that endpoint's part the matching verdict; the other endpoints still
    run. :class:`~validator.context.NoAnswer` ends the whole check (verdict ``error``).
    """
    out = Outcome(None, "")
    for name in endpoints:
        if name not in ctx.settings.endpoints:
            continue
        missing = endpoint_missing(ctx, name)
        if missing:
            out.parts.append(Part(name, UNSUPPORTED, missing))
            continue
        try:
            o = body(ctx, ENDPOINTS[name])
        except Unsupported as exc:
            out.parts.append(Part(name, UNSUPPORTED, str(exc), rejected=True))
            out.evidence += exc.evidence
            continue
        except Skipped as exc:
            out.parts.append(Part(name, SKIPPED, str(exc)))
            continue
        except ProviderError as exc:
            out.parts.append(Part(name, FAIL, str(exc), failures=[str(exc)]))
            out.failures.append(f"{name}: {exc}")
            if exc.exchange is not None:
                out.evidence.append(exc.exchange.excerpt())
            continue
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            # the provider said something this endpoint's body could not digest: a failure
            tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
            out.parts.append(Part(name, FAIL, f"check raised {tb}", failures=[tb]))
            out.failures.append(f"{name}: check raised {tb}")
            continue
        for t in o.tests:
            t.endpoint, t.method = name, t.method or o.method
            t.name = f"{name}: {t.name}"
        out.tests += o.tests
        out.evidence += o.evidence
        out.details[name] = o.details
        out.failures += [f"{name}: {f}" for f in o.failures]
        out.parts.append(Part(name, o.verdict, o.summary, o.method, list(o.failures),
                              rejected=o.verdict == UNSUPPORTED))
    if not out.parts:
        raise Skipped(f"covers {', '.join(endpoints)}; none of them is selected (--endpoints)")
    out.summary = "; ".join(f"{p.endpoint}: {p.summary}" for p in out.parts)
    return out
