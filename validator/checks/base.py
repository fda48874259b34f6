"""The check registry: what a check is and how it is registered.

A check is a function ``fn(ctx) -> Outcome`` registered with :func:`check`. It declares an id
(``family.name``), the documentation rule it tests (quoted from the API docs in ``shared/seeds``),
and its method. Inside, it talks to the provider only through ``ctx`` (``validator.context``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from validator.context import Context, Outcome


@dataclass(frozen=True)
class Check:
    """A registered check."""

    id: str
    title: str
    rule: str
    method: str
    fn: Callable[[Context], Outcome]
    statistical: bool = False


REGISTRY: dict[str, Check] = {}


def check(
    id: str, title: str, rule: str, method: str, statistical: bool = False
) -> Callable[[Callable[[Context], Outcome]], Callable[[Context], Outcome]]:
    """Register ``fn`` as check ``id`` (unique)."""

    def deco(fn: Callable[[Context], Outcome]) -> Callable[[Context], Outcome]:
        if id in REGISTRY:
            raise ValueError(f"duplicate check id {id}")
        REGISTRY[id] = Check(id, title, rule.strip(), " ".join(method.split()), fn, statistical)
        return fn

    return deco
