"""numba's on-disk cache for the fast path, kept fresh across its modules.

numba stamps a cached function with the hash of *its own* source file, but a cached kernel holds
the code of every op it calls, inlined: after an edit to ``patch.py`` alone, the cached
``kernels._sample_row`` would keep running the old penalties. :func:`install` puts a cache locator
in front of numba's that stamps every function of the fast path (``sampler/ops/*.py`` and
``sampler/kernels.py``) with one hash of all those files, so editing any of them recompiles all of
them; where the cache lives is still numba's choice (``NUMBA_CACHE_DIR``, ``__pycache__``, ...).
It must run before the first ``@njit(cache=True)`` of the fast path is evaluated
(``sampler/ops/__init__.py`` calls it). Uses numba's ``CacheImpl._locator_classes`` (numba 0.60 -
0.68); when that is missing the cache keeps numba's own per-file stamps.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

_OPS = Path(__file__).resolve().parent
#: the files whose functions share one stamp
SOURCES = tuple(sorted(_OPS.glob("*.py"))) + (_OPS.parent / "kernels.py",)


def fingerprint() -> str:
    """The hash of every file of the fast path (names and contents)."""
    h = hashlib.sha256()
    for path in SOURCES:
        h.update(path.name.encode())
        h.update(path.read_bytes() if path.exists() else b"")
    return h.hexdigest()


class FastPathLocator:
    """A numba cache locator: numba's own choice of place for a fast-path function, stamped with
    :func:`fingerprint` instead of its file's hash."""

    _stamp: str | None = None
    _inner_classes: list[Any] = []

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def get_source_stamp(self) -> str:
        if FastPathLocator._stamp is None:
            FastPathLocator._stamp = fingerprint()
        return FastPathLocator._stamp

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> FastPathLocator | None:
        if Path(py_file).resolve() not in SOURCES:
            return None
        for other in cls._inner_classes:
            inner = other.from_function(py_func, py_file)
            if inner is not None:
                return cls(inner)
        return None


def install() -> bool:
    """Put :class:`FastPathLocator` first among numba's cache locators (once); False when this
    numba has no such list."""
    try:
        from numba.core.caching import CacheImpl
    except ImportError:
        return False
    classes = getattr(CacheImpl, "_locator_classes", None)
    if not isinstance(classes, list):
        return False
    if FastPathLocator not in classes:
        FastPathLocator._inner_classes = list(classes)
        classes.insert(0, FastPathLocator)
    return True
