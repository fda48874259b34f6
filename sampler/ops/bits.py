"""Four LLVM-level helpers the fast path's ops are written with.

- :func:`i2f` / :func:`f2i`: reinterpret an int64 as a float64 and back (``2**k`` is built from bits;
  the exponent bin of a weight is read from its bits).
- :func:`fma`: ``a * b + c`` with one rounding (``llvm.fma``). The ops are compiled *without*
  fast-math, and every fused multiply-add is written out, so a value computed in a vectorised loop
  and the same value recomputed for one token later are bit-for-bit equal (a token's weight decides
  which bin it falls in and must not change between passes).
- :func:`radd`: an addition LLVM may reassociate, so a loop summing with it is vectorised; used only
  for sums whose order does not matter (the contract allows 1e-12).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic


@intrinsic
def i2f(typingctx, x):  # type: ignore[no-untyped-def]
    """The float64 whose IEEE-754 bits are the int64 ``x``."""
    if x != types.int64:
        return None
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@intrinsic
def f2i(typingctx, x):  # type: ignore[no-untyped-def]
    """The IEEE-754 bits of the float64 ``x`` as an int64."""
    if x != types.float64:
        return None
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@intrinsic
def fma(typingctx, a, b, c):  # type: ignore[no-untyped-def]
    """``a * b + c`` rounded once (``llvm.fma.f64``; a vector FMA instruction under AVX2)."""
    if not (a == types.float64 and b == types.float64 and c == types.float64):
        return None
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        d = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [d], ir.FunctionType(d, [d, d, d]))
        return builder.call(fn, args)

    return sig, codegen


@intrinsic
def radd(typingctx, a, b):  # type: ignore[no-untyped-def]
    """``a + b`` marked reassociable (``reassoc nsz``): lets LLVM vectorise a running sum."""
    if not (a == types.float64 and b == types.float64):
        return None
    sig = types.float64(types.float64, types.float64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        v = builder.fadd(args[0], args[1])
        v.flags.extend(["reassoc", "nsz"])
        return v

    return sig, codegen
