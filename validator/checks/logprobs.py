"""Shape of reported logprobs, echo, and whether they are raw or processed."""

from __future__ import annotations

import math
from typing import Any

from validator import rules
from validator.checks.base import check, per_endpoint
from validator.checks.errors import BOUNDING_STOPS
from validator.context import FAIL, PASS, Context, Outcome
from validator.endpoints import COMPLETIONS, Endpoint, choices
from validator.probing import first_top, spread_dist
from validator.rules import LOGPROBS_MODES

RAW, PROCESSED = LOGPROBS_MODES

PROMPT = "The cat sat on the"
TOL = 1e-4


def completion_logprob_problems(choice: dict[str, Any], k: int, prompt: str, echo: bool) -> list[str]:
    """Everything wrong with a completions ``logprobs`` object for ``logprobs = k``."""
    lp = choice.get("logprobs")
    if not isinstance(lp, dict):
        return ["logprobs missing"]
    toks, tlp, top, off = (lp.get(key) for key in ("tokens", "token_logprobs", "top_logprobs", "text_offset"))
    if not all(isinstance(x, list) for x in (toks, tlp, top, off)):
        return ["tokens, token_logprobs, top_logprobs and text_offset must all be lists"]
    problems = []
    if not len(toks) == len(tlp) == len(top) == len(off):
        problems.append(f"lengths differ: {len(toks)}, {len(tlp)}, {len(top)}, {len(off)}")
    text = choice.get("text") or ""
    if "".join(toks) != text:
        problems.append(f"tokens join to {''.join(toks)!r}, text is {text!r}")
    pos = 0 if echo else len(prompt)
    for i, (t, lpv, tp, o) in enumerate(zip(toks, tlp, top, off, strict=False)):
        if o != pos:
            problems.append(f"text_offset[{i}] = {o}, expected {pos}")
            break
        pos += len(t)
        if echo and i == 0:
            if lpv is not None or tp is not None:
                problems.append("echo: the first prompt token's logprob and top_logprobs must be null")
            continue
        if not isinstance(lpv, int | float) or lpv > 1e-9:
            problems.append(f"token_logprobs[{i}] = {lpv!r} is not a log-probability")
            continue
        if not isinstance(tp, dict):
            problems.append(f"top_logprobs[{i}] is not an object")
            continue
        if len(tp) > k + 1:
            problems.append(f"top_logprobs[{i}] has {len(tp)} entries, more than logprobs + 1 = {k + 1}")
        if t not in tp:
            problems.append(f"top_logprobs[{i}] lacks the chosen token {t!r}")
        elif abs(tp[t] - lpv) > TOL:
            problems.append(f"top_logprobs[{i}][{t!r}] = {tp[t]} but token_logprobs[{i}] = {lpv}")
        others = sorted((v for key, v in tp.items() if key != t), reverse=True)
        if k > 0 and len(tp) < min(k, 1):
            problems.append(f"top_logprobs[{i}] is empty")
        if t in tp and len(tp) == k + 1 and others and lpv > others[-1] + TOL:
            problems.append(f"top_logprobs[{i}] has k + 1 entries although the chosen token is among the top k")
    return problems


@check(
    "logprobs.shape",
    "logprobs: at most k + 1 entries, chosen token present and consistent, text_offset",
    rules.LOGPROBS,
    """Completions with logprobs 0, 2 and 5 (T = 1, max_tokens 6): per token, top_logprobs has <= k + 1
    entries and contains the chosen token with the value of token_logprobs; tokens join to the text;
    text_offset starts at len(prompt) and advances by each token's length. Chat with logprobs true and
    top_logprobs 3: entries {token, logprob, bytes, top_logprobs} with exactly 3 alternatives; the tokens and
    their bytes (decoded incrementally, a token may end inside a character) join to the message content.""",
)
def shape(ctx: Context) -> Outcome:
    return per_endpoint(ctx, _shape)


def _shape(ctx: Context, ep: Endpoint) -> Outcome:
    failures = []
    evidence = []
    if not ep.is_chat:
        for k in (0, 2, 5):
            ex = ctx.post(ep.path, ctx.body(prompt=PROMPT, max_tokens=6, temperature=1.0, logprobs=k,
                                            seed=ctx.next_seed()))
            evidence.append(ex.excerpt())
            cs = choices(ctx.ok(ex, "logprobs"))
            failures += [f"logprobs={k}: {p}" for p in completion_logprob_problems(cs[0] if cs else {}, k, PROMPT,
                                                                                  echo=False)]
        return Outcome(FAIL if failures else PASS, "; ".join(failures[:3]) or "shapes as documented",
                       evidence=evidence, failures=failures)
    ex = ctx.post(ep.path, ctx.body(**ep.prompt_fields("Hi"), max_tokens=4, logprobs=True, top_logprobs=3,
                                    temperature=1.0, seed=ctx.next_seed()))
    evidence.append(ex.excerpt())
    cs = choices(ctx.ok(ex, "logprobs, top_logprobs"))
    c = cs[0] if cs else {}
    content = (c.get("logprobs") or {}).get("content")
    if not isinstance(content, list) or not content:
        failures.append("logprobs.content missing or empty")
    else:
        joined = "".join(str(e.get("token", "")) for e in content)
        if joined != ep.text(c):
            failures.append(f"logprobs tokens join to {joined!r}, not the message content")
        joined_bytes = b""
        for i, e in enumerate(content):
            if not isinstance(e.get("logprob"), int | float) or e["logprob"] > 1e-9:
                failures.append(f"content[{i}].logprob = {e.get('logprob')!r}")
            tl = e.get("top_logprobs")
            if not isinstance(tl, list) or len(tl) != 3:
                failures.append(f"content[{i}].top_logprobs has {len(tl) if isinstance(tl, list) else tl!r} "
                                "entries, expected 3")
            b = e.get("bytes")
            if b is not None and (not isinstance(b, list) or not all(isinstance(x, int) and 0 <= x < 256 for x in b)):
                failures.append(f"content[{i}].bytes is not a list of bytes")
                continue
            if isinstance(b, list):  # one token's bytes may end or start inside a UTF-8 character: judged joined
                joined_bytes += bytes(b)
        if all(isinstance(e.get("bytes"), list) for e in content) and \
                joined_bytes.decode("utf-8", "replace") != ep.text(c):
            failures.append("the tokens' bytes do not join to the message content")
    return Outcome(FAIL if failures else PASS, "; ".join(failures[:3]) or "shapes as documented",
                   evidence=evidence, failures=failures)


@check(
    "logprobs.echo",
    "echo returns the prompt first; its first token's logprob is null",
    rules.ECHO + " " + rules.LOGPROBS,
    """echo true, logprobs 2, max_tokens 3: the text starts with the prompt, text_offset starts at 0, the first
    token's logprob and top_logprobs are null. echo with max_tokens 0 returns just the prompt, scored.""",
    endpoints=(COMPLETIONS,),
)
def echo(ctx: Context) -> Outcome:
    return per_endpoint(ctx, _echo, (COMPLETIONS,))


def _echo(ctx: Context, ep: Endpoint) -> Outcome:
    failures = []
    ex = ctx.completion(prompt=PROMPT, max_tokens=3, temperature=1.0, logprobs=2, echo=True, seed=ctx.next_seed())
    cs = choices(ctx.ok(ex, "echo"))
    c = cs[0] if cs else {}
    if not (c.get("text") or "").startswith(PROMPT):
        failures.append(f"echo: text {c.get('text')!r} does not start with the prompt")
    failures += [f"echo: {p}" for p in completion_logprob_problems(c, 2, PROMPT, echo=True)]
    # stop strings bound the cost should a provider read max_tokens 0 as "no limit"
    ex0 = ctx.completion(prompt=PROMPT, max_tokens=0, logprobs=1, echo=True, stop=BOUNDING_STOPS)
    evidence = [ex.excerpt(), ex0.excerpt()]
    d0 = ctx.ok(ex0, "echo, max_tokens 0")
    cs0 = choices(d0)
    c0 = cs0[0] if cs0 else {}
    generated = (d0.get("usage") or {}).get("completion_tokens")
    if generated != 0:
        failures.append(f"echo + max_tokens 0: usage.completion_tokens = {generated!r}, expected 0 (nothing generated)")
    if c0.get("text") != PROMPT:
        failures.append(f"echo + max_tokens 0: text {c0.get('text')!r}, expected the prompt")
    failures += [f"echo + max_tokens 0: {p}" for p in completion_logprob_problems(c0, 1, PROMPT, echo=True)]
    return Outcome(FAIL if failures else PASS, "; ".join(failures[:3]) or "prompt echoed and scored",
                   evidence=evidence, failures=failures)


@check(
    "logprobs.mode",
    "reported logprobs are raw: unaffected by temperature, top_p and logit_bias",
    rules.LOGPROBS_MODE,
    """Both endpoints. The first token's reported top logprobs at T = 1 (baseline) against the same at T = 0.5:
    raw mode reports identical values (within 1e-4); processed mode reports l / T renormalised, so differences
    between tokens double. The detected mode is reported (details.mode: completions', else chat's); the
    contract's default is raw.""",
)
def mode(ctx: Context) -> Outcome:
    out = per_endpoint(ctx, _mode)
    modes = [out.details[p.endpoint]["mode"] for p in out.parts if "mode" in out.details.get(p.endpoint, {})]
    if modes:
        out.details["mode"] = modes[0]
    return out


def _mode(ctx: Context, ep: Endpoint) -> Outcome:
    d = spread_dist(ctx, ep)
    top, ex = first_top(ctx, ep, d.prompt, temperature=0.5)
    common = [t for t in d.logprobs if t in top]
    if len(common) < 2:
        return Outcome(FAIL, f"temperature changed which tokens are reported: {sorted(top)} vs {sorted(d.logprobs)}",
                       evidence=[ex.excerpt()], failures=["reported top tokens differ from the baseline"])
    raw_err = max(abs(top[t] - d.logprobs[t]) for t in common)
    a = common[0]
    proc_err = max(abs((top[t] - top[a]) - (d.logprobs[t] - d.logprobs[a]) / 0.5) for t in common)
    detected = RAW if raw_err < TOL else PROCESSED if proc_err < 1e-3 else "other"
    if math.isnan(raw_err):
        detected = "other"
    details = {"baseline": d.as_dict(), "at_T_0.5": top, "max_abs_diff_raw": raw_err,
               "max_abs_diff_processed_prediction": proc_err, "mode": detected}
    verdict = PASS if detected == RAW else FAIL
    return Outcome(verdict, f"logprobs mode: {detected}", evidence=[ex.excerpt()], details=details,
                   failures=[] if verdict == PASS else [f"logprobs reported in {detected} mode, contract default is {RAW}"])
