"""``oairef serve`` pins glibc's mmap threshold: after a large block is freed, a later large block is
still mapped (and handed back when freed) instead of being carved from the heap. Each case runs in a
fresh process, since the setting is process-wide."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Frees a 2 MB block (which, left alone, raises glibc's threshold to 2 MB), then counts the mapped
#: blocks (mallinfo2's ``hblks``) before and while a 1 MB block is held.
PROBE = """
import ctypes, json, sys
from provider.allocator import pin_mmap_threshold
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = MallInfo2
pinned = pin_mmap_threshold() if sys.argv[1] == "pin" else False
libc.free(libc.malloc(2 << 20))
before = libc.mallinfo2().hblks
block = libc.malloc(1 << 20)
during = libc.mallinfo2().hblks
libc.free(block)
print(json.dumps({"pinned": pinned, "mapped": during - before}))
"""


def probe(mode: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert out.returncode == 0, out.stderr[-2000:]
    return dict(json.loads(out.stdout))


def test_left_alone_a_freed_large_block_moves_later_ones_into_the_heap() -> None:
    assert probe("leave") == {"pinned": False, "mapped": 0}


def test_pinned_later_large_blocks_are_still_mapped() -> None:
    assert probe("pin") == {"pinned": True, "mapped": 1}
