"""``POST /v1/completions`` and ``POST /v1/chat/completions``: JSON or server-sent events.

Rules:
- Generation runs in the threadpool; the event loop only parses, formats and writes.
- Limits (``provider.limits``): the body is read within the size and depth limits, the job within the
  per-request token budget (both before anything is tokenized), and every generation holds one of the
  server's slots (``provider.slots``: queued, or 429 with ``Retry-After``) from before its prompt is
  tokenized until it ends, however it ends. A client that leaves while queued is never generated for.
- JSON responses: a disconnect watcher sets the engine's ``cancelled`` flag when the client goes away.
- Streams (``text/event-stream``): one ``data: {chunk}`` event per engine delta, then, with
  ``stream_options.include_usage``, a chunk with ``choices: []`` and the usage (every other chunk
  then carries ``usage: null``), then ``data: [DONE]``. Chat streams start each choice with a
  ``{"role": "assistant", "content": ""}`` delta (sent just before that choice's first piece) and
  end it with an empty delta carrying ``finish_reason``. When the client disconnects, the stream is
  closed and generation stops.
- The concatenated streamed text equals the non-streamed text for the same seed (the engine's rule).
- The server's fault hooks (``provider.faults``) see the request body before it is parsed
  (``request``), every JSON object answered (``response``), the SSE text (``events``) and in-stream
  errors (``error``); without a fault each is the identity.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from provider import responses as R
from provider.body import read_json_object
from provider.budget import check_request_tokens
from provider.errors import CLIENT_GONE, APIError, log
from provider.generation import JobStream, run_job
from provider.requests_parse import Job, parse_chat, parse_completion
from provider.slots import Slot
from provider.state import ServerState, get_state
from sampler import Completion, GenerationCancelled, InvalidParameter, StreamDelta, TokenLogprob

router = APIRouter()

#: How often (seconds) a non-streamed request checks whether its client is still there.
DISCONNECT_POLL_S = 0.05
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
#: One streamed delta -> the chunks that carry it.
ToChunks = Callable[[StreamDelta], list[dict[str, Any]]]
#: ``(prompt_tokens, completion_tokens)`` -> the closing usage chunk.
UsageChunk = Callable[[int, int], dict[str, Any]]


async def _read_body(request: Request, state: ServerState) -> dict[str, Any]:
    limits = state.limits
    return await read_json_object(request, max_bytes=limits.max_body_bytes, max_depth=limits.max_json_depth)


async def _generate(request: Request, state: ServerState, job: Job) -> Completion | None:
    """Run ``job`` in the threadpool once it holds a slot; ``None`` if the client went away first."""
    slot = await state.slots.acquire(request.is_disconnected)
    if slot is None:
        return None
    try:
        return await _generate_in_slot(request, state, job)
    finally:
        slot.release()


async def _generate_in_slot(request: Request, state: ServerState, job: Job) -> Completion | None:
    cancel = threading.Event()
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            if await request.is_disconnected():
                cancel.set()
                return
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(done.wait(), DISCONNECT_POLL_S)

    watcher = asyncio.create_task(watch())
    state.stats.begin()
    try:
        return await run_in_threadpool(run_job, state.model, job, state.fault, cancel.is_set)
    except GenerationCancelled:
        return None
    except InvalidParameter as exc:
        raise job.refusal(exc) from None
    finally:
        done.set()
        await watcher
        state.stats.end(cancelled=cancel.is_set())


async def _stream_response(request: Request, state: ServerState, job: Job, to_chunks: ToChunks,
                           usage_chunk: UsageChunk) -> Response:
    """The SSE response of ``job``, once it holds a slot (``499`` if the client left while queued). Its
    engine stream is opened before the 200 goes out, so that an engine-side parameter error (token ids,
    context length) is still a 400."""
    slot = await state.slots.acquire(request.is_disconnected)
    if slot is None:
        return Response(status_code=CLIENT_GONE)
    try:
        stream = await run_in_threadpool(JobStream, state.model, job, state.fault)
    except InvalidParameter as exc:
        slot.release()
        raise job.refusal(exc) from None
    except BaseException:
        slot.release()
        raise
    events = _stream_events(state, job, stream, slot, to_chunks, usage_chunk)
    await anext(events)  # started: from here on its ``finally`` runs however the response ends
    return StreamingResponse(state.fault.events(events), media_type="text/event-stream", headers=SSE_HEADERS)


async def _stream_events(state: ServerState, job: Job, stream: JobStream, slot: Slot, to_chunks: ToChunks,
                         usage_chunk: UsageChunk) -> AsyncGenerator[str, None]:
    """SSE text of a streamed job, after one empty priming item; generation stops and the slot is
    released when the consumer goes away (or the generator is closed or collected)."""
    lock = threading.Lock()
    state.stats.begin()
    completed = False

    def step() -> StreamDelta | None:
        with lock:
            return next(stream, None)

    def close() -> None:
        with lock:
            stream.close()

    def event(obj: dict[str, Any]) -> str:
        return R.sse(state.fault.response(job.kind, obj))

    try:
        yield ""
        while True:
            try:
                delta = await run_in_threadpool(step)
            except Exception as exc:  # after the 200 went out: report in-band, as OpenAI does
                err = job.refusal(exc) if isinstance(exc, InvalidParameter) else APIError(
                    500, f"generation failed: {type(exc).__name__}: {exc}", type="server_error")
                if err.status == 500:
                    log.exception("stream failed")
                yield R.sse(state.fault.error(err.body()))
                break
            if delta is None:
                break
            for chunk in to_chunks(delta):
                yield event(chunk)
        if job.include_usage:
            yield event(usage_chunk(stream.prompt_tokens, stream.completion_tokens))
        yield R.DONE_EVENT
        completed = True
    finally:
        if not completed:
            stream.cancel.set()
        try:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(close)
        finally:
            slot.release()
            state.stats.end(cancelled=not completed)


# ---------------------------------------------------------------------------------------- completions
@router.post("/completions")
async def create_completion(request: Request) -> Response:
    """``CreateCompletionResponse`` or its SSE stream."""
    state = get_state(request)
    body = state.fault.request("completion", await _read_body(request, state))
    job = await run_in_threadpool(parse_completion, body, served=state.model_names,
                                  logprobs_mode=state.logprobs_mode)
    check_request_tokens(job, state.limits.max_request_tokens, state.model.n_ctx)
    rid, created = R.new_id("cmpl"), int(time.time())
    model = state.model

    def lp(entries: list[TokenLogprob] | None) -> dict[str, Any] | None:
        return R.completion_logprobs(entries, model) if job.params.logprobs is not None else None

    if job.stream:
        def to_chunks(d: StreamDelta) -> list[dict[str, Any]]:
            choice = {"index": d.index, "text": d.text, "logprobs": lp(d.logprobs), "finish_reason": d.finish_reason}
            return [R.completion_body(rid=rid, created=created, model_id=job.model, choices=[choice],
                                      usage_=None, include_usage_key=job.include_usage)]

        def usage_chunk(pt: int, ct: int) -> dict[str, Any]:
            return R.completion_body(rid=rid, created=created, model_id=job.model, choices=[],
                                     usage_=R.usage(pt, ct))

        return await _stream_response(request, state, job, to_chunks, usage_chunk)

    result = await _generate(request, state, job)
    if result is None:
        return Response(status_code=CLIENT_GONE)
    choices = [{"index": c.index, "text": c.text, "finish_reason": c.finish_reason, "logprobs": lp(c.logprobs)}
               for c in sorted(result.choices, key=lambda c: c.index)]
    body = R.completion_body(rid=rid, created=created, model_id=job.model, choices=choices,
                             usage_=R.usage(result.prompt_tokens, result.completion_tokens))
    return JSONResponse(state.fault.response(job.kind, body))


# ---------------------------------------------------------------------------------------------- chat
@router.post("/chat/completions")
async def create_chat_completion(request: Request) -> Response:
    """``CreateChatCompletionResponse`` or its SSE stream of ``CreateChatCompletionStreamResponse``."""
    state = get_state(request)
    body = state.fault.request("chat", await _read_body(request, state))
    job = await run_in_threadpool(parse_chat, body, model=state.model, served=state.model_names,
                                  logprobs_mode=state.logprobs_mode)
    check_request_tokens(job, state.limits.max_request_tokens, state.model.n_ctx)
    rid, created = R.new_id("chatcmpl"), int(time.time())
    model = state.model
    k = job.params.logprobs

    def lp(entries: list[TokenLogprob] | None) -> dict[str, Any] | None:
        return R.chat_logprobs(entries, model, k) if k is not None else None

    if job.stream:
        opened: set[int] = set()

        def chunk(choices: list[dict[str, Any]]) -> dict[str, Any]:
            return R.chat_body(rid=rid, created=created, model_id=job.model, choices=choices, usage_=None,
                               chunk=True, include_usage_key=job.include_usage)

        def to_chunks(d: StreamDelta) -> list[dict[str, Any]]:
            out = []
            if d.index not in opened:
                opened.add(d.index)
                out.append(chunk([{"index": d.index, "delta": {"role": "assistant", "content": ""},
                                   "logprobs": None, "finish_reason": None}]))
            if d.text or d.logprobs:
                out.append(chunk([{"index": d.index, "delta": {"content": d.text}, "logprobs": lp(d.logprobs),
                                   "finish_reason": None}]))
            if d.finish_reason is not None:
                out.append(chunk([{"index": d.index, "delta": {}, "logprobs": None,
                                   "finish_reason": d.finish_reason}]))
            return out

        def usage_chunk(pt: int, ct: int) -> dict[str, Any]:
            return R.chat_body(rid=rid, created=created, model_id=job.model, choices=[],
                               usage_=R.usage(pt, ct), chunk=True)

        return await _stream_response(request, state, job, to_chunks, usage_chunk)

    result = await _generate(request, state, job)
    if result is None:
        return Response(status_code=CLIENT_GONE)
    choices = [{"index": c.index, "finish_reason": c.finish_reason, "logprobs": lp(c.logprobs),
                "message": {"role": "assistant", "content": c.text, "refusal": None}}
               for c in sorted(result.choices, key=lambda c: c.index)]
    body = R.chat_body(rid=rid, created=created, model_id=job.model, choices=choices,
                       usage_=R.usage(result.prompt_tokens, result.completion_tokens), chunk=False)
    return JSONResponse(state.fault.response(job.kind, body))
