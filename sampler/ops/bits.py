"""Five LLVM-level helpers the fast path is written with.

- :func:`i2f` / :func:`f2i`: reinterpret an int64 as a float64 and back (``2**k`` is built from bits;
  the exponent bin of a weight is read from its bits).
- :func:`fma`: ``a * b + c`` with one rounding (``llvm.fma``). The ops are compiled *without*
  fast-math, and every fused multiply-add is written out, so a value computed in a vectorised loop
  and the same value recomputed for one token later are bit-for-bit equal (a token's weight decides
  which bin it falls in and must not change between passes).
- :func:`radd`: an addition LLVM may reassociate, so a loop summing with it is vectorised; used only
  for sums whose order does not matter (the contract allows 1e-12).
- :func:`fetch_add`: an atomic increment (the row counter threads share).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
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


@intrinsic
def fetch_add(typingctx, arr, i, v):  # type: ignore[no-untyped-def]
    """``arr[i] += v`` as one atomic read-modify-write (int64); returns the old value. Threads running
    a kernel on the same rows take the next row from a shared counter with it."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64 and isinstance(i, types.Integer)
            and v == types.int64):
        return None
    sig = types.int64(arr, i, v)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        arrty = signature.args[0]
        ary = context.make_array(arrty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, arrty, ary, [args[1]])
        return builder.atomic_rmw("add", ptr, args[2], "seq_cst")

    return sig, codegen
