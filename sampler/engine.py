"""The completion engine: prompts in, choices out, following ``../shared/SEMANTICS.md``.

Rules implemented here:

- **Prompts**: ``str``, ``list[int]`` (token ids), ``list[str]`` or ``list[list[int]]``; choice index is
  ``prompt_index * n + j``. Token ids outside ``[0, vocab_size)`` name ``prompt``
  (:func:`params.check_token_ids`). **Context** (:func:`generation_budget`): a prompt longer than
  ``n_ctx`` names ``prompt``; ``len(prompt) + max_tokens > n_ctx`` names ``max_tokens``;
  ``max_tokens=None`` means the rest of the context, which must hold at least one token (else
  ``prompt``). Both are :class:`ContextLengthExceeded`. A prompt is measured before it is tokenized
  (:func:`check_prompt_text`, :func:`check_prompt_tokens`): a text with more bytes than the context
  times the model's longest token, or a list of more ids than the context, is refused without
  tokenizing or checking every id, so the work a prompt costs is bounded by the context.
- **Candidates**: ``best_of`` (default ``n``) per prompt. Candidate ``i`` of a prompt draws one
  uniform per step from ``Generator(PCG64(SeedSequence([seed, i])))`` **(choice: ``i`` counts within
  its prompt, so equal prompts behave alike)**; without ``seed`` the first element is fresh OS entropy.
  All active candidates of a request step together through :func:`kernels.sample_batch_full`.
- **Ranking**: a candidate's score is the mean raw logprob of its returned tokens (the end-of-text
  token and tokens cut by a stop are not returned). **(choice)** With no returned token the score is
  the mean over the generated ones (e.g. just end-of-text), and 0.0 if nothing was generated. The
  ``n`` best (ties: lower candidate index) are returned best first; ``best_of == n`` never reorders.
- **Stopping**: end-of-text -> ``"stop"`` (its text not returned); a stop string -> ``"stop"``, text cut
  before its earliest occurrence, logprob entries kept for tokens whose text starts before the cut
  **(choice)**; ``max_tokens`` generated tokens -> ``"length"``.
- **Text**: token bytes go through an incremental UTF-8 decoder (``errors="replace"``), so characters
  split across tokens come out whole; the decoder is flushed when the choice finishes.
- **Echo**: the prompt's text and tokens come first; the first prompt token has ``logprob`` and ``top``
  ``None``; prompt-token logprobs are always raw. ``echo`` with ``max_tokens=0`` only scores the prompt.
- **Logprobs**: per token the chosen logprob and the top-k plus the chosen (<= k + 1), ``raw`` or
  ``processed`` per ``params.logprobs_mode``; ``text_offset`` counts characters from the start of the
  prompt, echoed or not.
- **Penalties** count the ids ``penalty_ids(prompt_ids, generated_ids)`` returns for the candidate;
  the default, :func:`generated_only`, is the contract (the candidate's generated tokens, never the
  prompt). Another policy (e.g. llama.cpp's window over prompt + generated) is the caller's to pass.
- **Usage**: prompt tokens once per prompt; completion tokens of every candidate (end-of-text included).
- **Streaming**: the same machinery; text that could still begin a stop string is held back, so the
  concatenated stream equals the non-streamed text.
"""

from __future__ import annotations

import codecs
import contextlib
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import reference
from .errors import ContextLengthExceeded, GenerationCancelled, InvalidParameter
from .kernels import sample_batch_full
from .model import Model
from .params import SamplingParams, check_logit_bias_ids, check_token_ids
from .results import Choice, Completion, StreamDelta, TokenLogprob
from .stops import StopMatcher

Prompt = str | Sequence[int] | Sequence[str] | Sequence[Sequence[int]]
#: Which token ids a candidate's penalties count, given its prompt ids and the ids it has generated.
PenaltyIds = Callable[[Sequence[int], Sequence[int]], Sequence[int]]


def generated_only(prompt_ids: Sequence[int], generated_ids: Sequence[int]) -> Sequence[int]:
    """The contract's penalty counts (step 1): the tokens this choice has generated, never the prompt
    ("sampled prior to the current position"; on chat, no part of the rendered messages)."""
    return generated_ids


@dataclass(frozen=True)
class TokenizedPrompt:
    """One prompt as the engine generates from it: its token ids and its text (echoed, offsets base)."""

    ids: list[int]
    text: str


#: Each model's longest token in bytes, computed once per model object.
_LONGEST_TOKEN: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def longest_token_bytes(model: Model) -> int:
    """The byte length of the longest token of ``model``'s vocabulary (at least 1; cached per model)."""
    try:
        return _LONGEST_TOKEN[model]
    except (KeyError, TypeError):
        pass
    longest = max(1, max(len(model.token_bytes(t)) for t in range(model.vocab_size)))
    with contextlib.suppress(TypeError):  # a model that cannot be weakly referenced is measured each call
        _LONGEST_TOKEN[model] = longest
    return longest


def check_prompt_tokens(prompt_tokens: int, n_ctx: int) -> None:
    """A prompt longer than the context raises ``ContextLengthExceeded('prompt')``."""
    if prompt_tokens > n_ctx:
        raise ContextLengthExceeded(
            "prompt", f"the prompt has {prompt_tokens} tokens, more than the model's context length of {n_ctx}")


def check_prompt_text(model: Model, text: str) -> None:
    """The context check before tokenizing: no token of ``model`` is longer than ``L`` bytes
    (:func:`longest_token_bytes`), so a text of ``B`` UTF-8 bytes is at least ``ceil(B / L)`` tokens;
    when that exceeds ``n_ctx`` the text raises ``ContextLengthExceeded('prompt')`` untokenized.

    Holds for any tokenizer whose ids decode to at least the text's bytes (byte-level BPE, SentencePiece
    with or without a dummy prefix or BOS). A text that passes has at most ``n_ctx * L`` bytes.
    """
    longest = longest_token_bytes(model)
    limit = model.n_ctx * longest
    if len(text) > limit:  # characters <= bytes: refused without even encoding the text
        size = len(text)
        unit = "characters"
    else:
        size = len(text.encode("utf-8"))
        unit = "bytes"
    if size > limit:
        least = -(-size // longest)
        raise ContextLengthExceeded(
            "prompt", f"the prompt has at least {least} tokens ({size} {unit}, and no token of this model is "
            f"longer than {longest} bytes), more than the model's context length of {model.n_ctx}")


def tokenize_prompt(model: Model, text: str) -> list[int]:
    """``model.tokenize(text)`` after :func:`check_prompt_text`, so the work is bounded by the context."""
    check_prompt_text(model, text)
    return model.tokenize(text)


def prompt_count(prompt: Any) -> int:
    """How many prompts :func:`normalize_prompts` makes of ``prompt``, from its shape alone (nothing is
    tokenized or checked): one for a string or a list of token ids, else one per item (a malformed prompt
    counts its items; :func:`normalize_prompts` refuses it)."""
    if isinstance(prompt, str) or not isinstance(prompt, Sequence) or len(prompt) == 0:
        return 1
    if all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in prompt):
        return 1
    return len(prompt)


def most_prompt_tokens(prompt: Any, n_ctx: int) -> int:
    """An upper bound on the prompt tokens of ``prompt``, from its shape and size alone (nothing is
    tokenized): per prompt its number of ids, or for a text its UTF-8 bytes plus one (no token of a
    text is shorter than a byte; a tokenizer may add a BOS), each at most ``n_ctx`` (a longer prompt is
    a context error). What echo with logprobs scores, one model call per prompt token."""
    if isinstance(prompt, str):  # characters <= bytes: a long text is not even encoded
        return n_ctx if len(prompt) >= n_ctx else min(n_ctx, len(prompt.encode("utf-8")) + 1)
    if not isinstance(prompt, Sequence) or len(prompt) == 0:
        return 0
    if all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in prompt):
        return min(n_ctx, len(prompt))
    return sum(most_prompt_tokens(p, n_ctx) if isinstance(p, str) else
               min(n_ctx, len(p)) if isinstance(p, Sequence) else 0 for p in prompt)


def normalize_prompts(model: Model, prompt: Any) -> list[TokenizedPrompt]:
    """Each prompt's ids and text; a malformed prompt or an id outside the vocabulary raises
    ``InvalidParameter('prompt')``; a prompt longer than the context (measured before tokenizing or
    checking its ids) raises ``ContextLengthExceeded('prompt')``."""

    def ids_ok(ids: Sequence[Any]) -> list[int]:
        check_prompt_tokens(len(ids), model.n_ctx)
        for t in ids:
            if isinstance(t, bool) or not isinstance(t, (int, np.integer)):
                raise InvalidParameter("prompt", "token ids must be integers")
        check_token_ids("prompt", ids, model.vocab_size)
        return [int(t) for t in ids]

    def from_ids(ids: Sequence[Any]) -> TokenizedPrompt:
        checked = ids_ok(ids)
        text = b"".join(model.token_bytes(t) for t in checked).decode("utf-8", errors="replace")
        return TokenizedPrompt(checked, text)

    if isinstance(prompt, str):
        return [TokenizedPrompt(tokenize_prompt(model, prompt), prompt)]
    if not isinstance(prompt, Sequence) or len(prompt) == 0:
        raise InvalidParameter("prompt", "must be a string, a list of strings, or token ids (non-empty)")
    if all(isinstance(p, str) for p in prompt):
        return [TokenizedPrompt(tokenize_prompt(model, p), p) for p in prompt]
    if all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in prompt):
        return [from_ids(prompt)]
    if all(isinstance(p, Sequence) and not isinstance(p, str) for p in prompt):
        return [from_ids(p) for p in prompt]
    raise InvalidParameter("prompt", "mixes strings and token ids")


def generation_budget(prompt_tokens: int, max_tokens: int | None, n_ctx: int) -> int:
    """How many tokens a choice of this prompt may generate: ``max_tokens``, or with ``None`` the rest
    of the context.

    The context check: a prompt longer than ``n_ctx``, or one that leaves no room when ``max_tokens``
    is ``None``, raises ``ContextLengthExceeded('prompt')``; prompt + ``max_tokens`` beyond ``n_ctx``
    raises ``ContextLengthExceeded('max_tokens')``.
    """
    check_prompt_tokens(prompt_tokens, n_ctx)
    if max_tokens is None:
        if prompt_tokens == n_ctx:
            raise ContextLengthExceeded(
                "prompt", f"the prompt fills the model's context of {n_ctx} tokens; no room is left to generate")
        return n_ctx - prompt_tokens
    if prompt_tokens + max_tokens > n_ctx:
        raise ContextLengthExceeded(
            "max_tokens", f"the prompt has {prompt_tokens} tokens and {max_tokens} more would exceed the "
            f"model's context length of {n_ctx}")
    return max_tokens


class _Candidate:
    """The generation state of one candidate: tokens, decoded text, entries, stop and streaming marks."""

    def __init__(
        self, model: Model, params: SamplingParams, prompt_index: int, cand: int, ids: list[int], text: str,
        max_tokens: int, entropy: int,
    ) -> None:
        self.model = model
        self.params = params
        self.prompt_index = prompt_index
        self.cand = cand
        self.prompt_ids = ids
        self.prompt_text = text
        self.max_tokens = max_tokens
        self.rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([entropy, cand])))
        self.generated: list[int] = []
        self.returned: list[int] = []
        self.raw_lps: list[float] = []
        self.gen_raw_lps: list[float] = []
        self.entries: list[TokenLogprob] = []
        self.starts: list[int] = []
        self.text = ""
        self.cut: int | None = None
        self.finish: str | None = None
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.matcher = StopMatcher(params.stops)
        self.emitted_text = 0
        self.emitted_entries = 0
        self.prefix_sent = False
        self.index = -1
        if max_tokens == 0:
            self.finish = "length"

    @property
    def active(self) -> bool:
        return self.finish is None

    def _append_text(self, piece: str) -> None:
        prev = len(self.text)
        self.text += piece
        hit = self.matcher.find(self.text, prev)
        if hit is not None:
            self.cut = hit
            self.finish = "stop"

    def _flush(self) -> None:
        tail = self.decoder.decode(b"", final=True)
        if tail:
            if self.entries and self.entries[-1].token_id == self.returned[-1]:
                self.entries[-1].text += tail
            self._append_text(tail)

    def accept(self, tok: int, raw_lp: float, lp: float, top: list[tuple[int, float]] | None) -> None:
        """Record one generated token and update the finish state."""
        self.generated.append(tok)
        self.gen_raw_lps.append(raw_lp)
        if tok == self.model.eos_token_id:
            self.finish = "stop"
            self._flush()
            return
        b = self.model.token_bytes(tok)
        piece = self.decoder.decode(b)
        start = len(self.text)
        self.returned.append(tok)
        self.raw_lps.append(raw_lp)
        self.starts.append(start)
        if self.params.logprobs is not None:
            base = len(self.prompt_text)
            self.entries.append(TokenLogprob(tok, piece, b, lp, top, base + start))
        self._append_text(piece)
        if self.finish is None and len(self.generated) >= self.max_tokens:
            self.finish = "length"
            self._flush()

    def n_kept(self) -> int:
        """How many returned tokens survive the stop cut (their text starts before it)."""
        if self.cut is None:
            return len(self.returned)
        return sum(1 for s in self.starts if s < self.cut)

    def final_text(self) -> str:
        return self.text if self.cut is None else self.text[: self.cut]

    def score(self) -> float:
        k = self.n_kept()
        if k:
            return float(np.mean(self.raw_lps[:k]))
        if self.gen_raw_lps:
            return float(np.mean(self.gen_raw_lps))
        return 0.0

    def safe_end(self) -> int:
        if self.finish is not None:
            return len(self.final_text())
        return len(self.text) - self.matcher.holdback(self.text)


def _echo_entries(model: Model, ids: list[int], k: int) -> list[TokenLogprob]:
    """Logprob entries of the prompt tokens (raw); the first has ``logprob``/``top`` ``None``."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    out: list[TokenLogprob] = []
    offset = 0
    for i, t in enumerate(ids):
        b = model.token_bytes(t)
        piece = decoder.decode(b, final=i == len(ids) - 1)
        if i == 0:
            out.append(TokenLogprob(t, piece, b, None, None, offset))
        else:
            lp = reference.raw_logprobs(model.logits(ids[:i]))
            top = reference.with_chosen(reference.top_k_logprobs(lp, k), t, float(lp[t]))
            out.append(TokenLogprob(t, piece, b, float(lp[t]), top, offset))
        offset += len(piece)
    return out


class _Run:
    """One request's generation; yields stream deltas while stepping all candidates together."""

    def __init__(
        self, model: Model, prompt: Any, params: SamplingParams, penalty_ids: PenaltyIds,
        cancelled: Callable[[], bool] | None,
    ) -> None:
        self.model = model
        self.params = params
        self.penalty_ids = penalty_ids
        self.cancelled = cancelled
        self.closed = False
        check_logit_bias_ids(params.logit_bias, model.vocab_size)
        self.prompts = normalize_prompts(model, prompt)
        entropy = params.seed_entropy()
        if entropy is None:
            entropy = int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]
        self.cands: list[_Candidate] = []
        for pi, tp in enumerate(self.prompts):
            mt = generation_budget(len(tp.ids), params.max_tokens, model.n_ctx)
            for c in range(params.candidates):
                self.cands.append(_Candidate(model, params, pi, c, tp.ids, tp.text, mt, entropy))
        self.prompt_tokens = sum(len(tp.ids) for tp in self.prompts)
        if params.best_of is None or params.best_of == params.n:
            for cand in self.cands:
                cand.index = cand.prompt_index * params.n + cand.cand
        self.k = 0 if params.logprobs is None else params.logprobs
        self.echo_cache: dict[int, list[TokenLogprob]] = {}

    @property
    def completion_tokens(self) -> int:
        return sum(len(c.generated) for c in self.cands)

    def echo_entries(self, pi: int) -> list[TokenLogprob]:
        if pi not in self.echo_cache:
            self.echo_cache[pi] = _echo_entries(self.model, self.prompts[pi].ids, self.k)
        return self.echo_cache[pi]

    def step(self) -> None:
        """Sample one token for every active candidate, all rows in one batched kernel call."""
        if self.cancelled is not None and self.cancelled():
            raise GenerationCancelled("generation cancelled")
        active = [c for c in self.cands if c.active]
        if not active:
            return
        rows = np.stack([self.model.logits(c.prompt_ids + c.generated) for c in active])
        hist = [self.penalty_ids(c.prompt_ids, c.generated) for c in active]
        us = np.array([c.rng.random() for c in active])
        tokens, raw, chosen, top_ids, top_lps = sample_batch_full(
            rows, [self.params] * len(active), hist, us, self.k, mode=self.params.logprobs_mode
        )
        for r, c in enumerate(active):
            top = None
            if self.params.logprobs is not None:
                pairs = [(int(i), float(v)) for i, v in zip(top_ids[r], top_lps[r], strict=True) if i >= 0]
                top = reference.with_chosen(pairs, int(tokens[r]), float(chosen[r]))
            c.accept(int(tokens[r]), float(raw[r]), float(chosen[r]), top)

    def run_all(self) -> None:
        for _ in range(self.model.n_ctx + 1):
            if not any(c.active for c in self.cands):
                return
            self.step()

    def ranked(self) -> list[_Candidate]:
        """The returned candidates with their final ``index``, in index order."""
        n = self.params.n
        out: list[_Candidate] = []
        for pi in range(len(self.prompts)):
            group = [c for c in self.cands if c.prompt_index == pi]
            if self.params.candidates != n:
                group = sorted(group, key=lambda c: (-c.score(), c.cand))[:n]
            for j, c in enumerate(group):
                c.index = pi * n + j
                out.append(c)
        return out

    def choice(self, c: _Candidate) -> Choice:
        kept = c.n_kept()
        entries = None
        text = c.final_text()
        if self.params.logprobs is not None:
            entries = list(c.entries[:kept])
        if self.params.echo:
            text = c.prompt_text + text
            if entries is not None:
                entries = self.echo_entries(c.prompt_index) + entries
        return Choice(c.index, text, c.finish or "length", entries, list(c.returned[:kept]), c.score())

    def deltas(self, c: _Candidate) -> list[StreamDelta]:
        """The newly safe text/entries of a (streamed, never reordered) candidate."""
        out: list[StreamDelta] = []
        if not c.prefix_sent:
            c.prefix_sent = True
            if self.params.echo:
                ent = self.echo_entries(c.prompt_index) if self.params.logprobs is not None else None
                if c.prompt_text or ent:
                    out.append(StreamDelta(c.index, c.prompt_text, list(ent) if ent is not None else None, None))
        end = c.safe_end()
        kept = c.n_kept() if c.finish is not None else sum(1 for s in c.starts if s < end)
        text = c.text[c.emitted_text:end] if end > c.emitted_text else ""
        new_entries = c.entries[c.emitted_entries:kept] if self.params.logprobs is not None else []
        c.emitted_text = max(c.emitted_text, end)
        c.emitted_entries = max(c.emitted_entries, kept)
        if text or new_entries or c.finish is not None:
            lp = list(new_entries) if self.params.logprobs is not None else None
            out.append(StreamDelta(c.index, text, lp, c.finish))
        return out


def complete(
    model: Model,
    prompt: Prompt,
    params: SamplingParams,
    *,
    penalty_ids: PenaltyIds = generated_only,
    cancelled: Callable[[], bool] | None = None,
) -> Completion:
    """Generate every candidate of every prompt and return the ``n`` best per prompt (see module rules)."""
    run = _Run(model, prompt, params, penalty_ids, cancelled)
    run.run_all()
    choices = [run.choice(c) for c in run.ranked()]
    choices.sort(key=lambda ch: ch.index)
    return Completion(choices, run.prompt_tokens, run.completion_tokens)


class CompletionStream:
    """Iterable of :class:`StreamDelta`; ``prompt_tokens``/``completion_tokens`` are final once exhausted.

    Each choice's deltas arrive in order and its last delta carries ``finish_reason``. ``close()`` stops
    generation (no further deltas).
    """

    def __init__(self, run: _Run) -> None:
        self._run = run
        self._gen = self._generate()
        self.prompt_tokens = run.prompt_tokens

    @property
    def completion_tokens(self) -> int:
        return self._run.completion_tokens

    def _generate(self) -> Iterator[StreamDelta]:
        run = self._run
        finished: set[int] = set()
        for c in run.cands:
            if c.finish is not None:
                finished.add(id(c))
            yield from run.deltas(c)
        for _ in range(run.model.n_ctx + 1):
            if run.closed or not any(c.active for c in run.cands):
                break
            run.step()
            for c in run.cands:
                if id(c) in finished:
                    continue
                if c.finish is not None:
                    finished.add(id(c))
                yield from run.deltas(c)

    def __iter__(self) -> Iterator[StreamDelta]:
        return self

    def __next__(self) -> StreamDelta:
        if self._run.closed:
            raise StopIteration
        return next(self._gen)

    def close(self) -> None:
        """Stop generating; later iteration ends immediately."""
        self._run.closed = True
        self._gen.close()


def stream_complete(
    model: Model,
    prompt: Prompt,
    params: SamplingParams,
    *,
    penalty_ids: PenaltyIds = generated_only,
    cancelled: Callable[[], bool] | None = None,
) -> CompletionStream:
    """Like :func:`complete` but streamed; ``best_of > 1`` cannot stream (``InvalidParameter('best_of')``)."""
    if params.best_of is not None and params.best_of > 1:
        raise InvalidParameter("best_of", "results cannot be streamed when best_of > 1")
    return CompletionStream(_Run(model, prompt, params, penalty_ids, cancelled))
