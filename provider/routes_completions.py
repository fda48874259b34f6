"""``POST /v1/completions`` and ``POST /v1/chat/completions``: JSON or server-sent events.

Rules:
- Generation runs in the threadpool; the event loop only parses, formats and writes.
- JSON responses: a disconnect watcher sets the engine's ``cancelled`` flag when the client goes away.
- Streams (``text/event-stream``): one ``data: {chunk}`` event per engine delta, then, with
  ``stream_options.include_usage``, a chunk with ``choices: []`` and the usage (every other chunk
  then carries ``usage: null``), then ``data: [DONE]``. Chat streams start each choice with a
  ``{"role": "assistant", "content": ""}`` delta and end it with an empty delta carrying
  ``finish_reason``. When the client disconnects, the stream is closed and generation stops.
- The concatenated streamed text equals the non-streamed text for the same seed (the engine's rule).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from provider import responses as R
from provider.body import read_json_object
from provider.errors import APIError, log
from provider.generation import JobStream, run_job
from provider.requests_parse import Job, parse_chat, parse_completion
from provider.state import ServerState, get_state
from sampler import Completion, GenerationCancelled, InvalidParameter, StreamDelta, TokenLogprob

router = APIRouter()

#: How often (seconds) a non-streamed request checks whether its client is still there.
DISCONNECT_POLL_S = 0.05


def _parse(kind: str, body: dict[str, Any], state: ServerState) -> Job:
    parse = parse_completion if kind == "completion" else parse_chat
    return parse(body, model=state.model, model_id=state.model_id, fault=state.fault,
                 logprobs_mode=state.effective_logprobs_mode)


async def _generate(request: Request, state: ServerState, job: Job) -> Completion | None:
    """Run ``job`` in the threadpool; ``None`` if the client went away first."""
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
        return await run_in_threadpool(run_job, state.model, job,
                                       count_prompt_in_penalties=state.fault.count_prompt_in_penalties,
                                       cancelled=cancel.is_set)
    except GenerationCancelled:
        return None
    except InvalidParameter as exc:
        raise job.refusal(exc) from None
    finally:
        done.set()
        await watcher
        state.stats.end(cancelled=cancel.is_set())


def _sse(obj: dict[str, Any]) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False, allow_nan=False)}\n\n"


async def _open_stream(state: ServerState, job: Job) -> tuple[JobStream, threading.Event]:
    """The engine stream of ``job`` and its cancel flag, opened before the 200 goes out so that an
    engine-side parameter error is still a 400."""
    cancel = threading.Event()
    try:
        stream = await run_in_threadpool(JobStream, state.model, job,
                                         count_prompt_in_penalties=state.fault.count_prompt_in_penalties,
                                         cancelled=cancel.is_set)
    except InvalidParameter as exc:
        raise job.refusal(exc) from None
    return stream, cancel


async def _stream_events(state: ServerState, job: Job, stream: JobStream, cancel: threading.Event,
                         to_chunks: Callable[[StreamDelta], list[dict[str, Any]]],
                         opening: list[dict[str, Any]],
                         usage_chunk: Callable[[int, int], dict[str, Any]]) -> AsyncIterator[str]:
    """SSE text of a streamed job; generation stops when the consumer goes away."""
    lock = threading.Lock()
    state.stats.begin()
    completed = False

    def step() -> StreamDelta | None:
        with lock:
            return next(stream, None)

    def close() -> None:
        with lock:
            stream.close()

    try:
        for chunk in opening:
            yield _sse(chunk)
        while True:
            try:
                delta = await run_in_threadpool(step)
            except Exception as exc:  # after the 200 went out: report in-band, as OpenAI does
                err = job.refusal(exc) if isinstance(exc, InvalidParameter) else APIError(
                    500, f"generation failed: {type(exc).__name__}: {exc}", type="server_error")
                if err.status == 500:
                    log.exception("stream failed")
                yield _sse(state.fault.shape_error(err.to_dict()))
                break
            if delta is None:
                break
            for chunk in to_chunks(delta):
                yield _sse(chunk)
        if job.include_usage:
            yield _sse(usage_chunk(stream.prompt_tokens, stream.completion_tokens))
        if not state.fault.no_done:
            yield "data: [DONE]\n\n"
        completed = True
    finally:
        if not completed:
            cancel.set()
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(close)
        state.stats.end(cancelled=not completed)


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


# ---------------------------------------------------------------------------------------- completions
@router.post("/completions")
async def create_completion(request: Request) -> Response:
    """``CreateCompletionResponse`` or its SSE stream."""
    state = get_state(request)
    body = await read_json_object(request)
    job = await run_in_threadpool(_parse, "completion", body, state)
    rid, created = R.new_id("cmpl"), int(time.time())
    model = state.model

    if job.stream:
        def to_chunks(d: StreamDelta) -> list[dict[str, Any]]:
            choice = {"index": d.index, "text": d.text,
                      "logprobs": R.completion_logprobs(d.logprobs, model) if job.params.logprobs is not None
                      else None,
                      "finish_reason": d.finish_reason}
            return [R.completion_body(rid=rid, created=created, model_id=job.model, choices=[choice],
                                      usage_=None, include_usage_key=job.include_usage)]

        def usage_chunk(pt: int, ct: int) -> dict[str, Any]:
            return R.completion_body(rid=rid, created=created, model_id=job.model, choices=[],
                                     usage_=R.usage(pt, ct))

        stream, cancel = await _open_stream(state, job)
        return StreamingResponse(_stream_events(state, job, stream, cancel, to_chunks, [], usage_chunk),
                                 media_type="text/event-stream", headers=SSE_HEADERS)

    result = await _generate(request, state, job)
    if result is None:
        return Response(status_code=499)
    choices = [{"index": c.index, "text": c.text, "finish_reason": c.finish_reason,
                "logprobs": R.completion_logprobs(c.logprobs, model) if job.params.logprobs is not None
                else None}
               for c in sorted(result.choices, key=lambda c: c.index)]
    return JSONResponse(R.completion_body(rid=rid, created=created, model_id=job.model, choices=choices,
                                          usage_=R.usage(result.prompt_tokens, result.completion_tokens)))


# ---------------------------------------------------------------------------------------------- chat
@router.post("/chat/completions")
async def create_chat_completion(request: Request) -> Response:
    """``CreateChatCompletionResponse`` or its SSE stream of ``CreateChatCompletionStreamResponse``."""
    state = get_state(request)
    body = await read_json_object(request)
    job = await run_in_threadpool(_parse, "chat", body, state)
    rid, created = R.new_id("chatcmpl"), int(time.time())
    model = state.model
    k = job.params.logprobs

    def lp(entries: list[TokenLogprob] | None) -> dict[str, Any] | None:
        return R.chat_logprobs(entries, model, k) if k is not None else None

    if job.stream:
        def chunk(choices: list[dict[str, Any]]) -> dict[str, Any]:
            return R.chat_body(rid=rid, created=created, model_id=job.model, choices=choices, usage_=None,
                               chunk=True, include_usage_key=job.include_usage)

        opening = [chunk([{"index": i, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                           "finish_reason": None}]) for i in range(job.params.n)]

        def to_chunks(d: StreamDelta) -> list[dict[str, Any]]:
            out = []
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

        stream, cancel = await _open_stream(state, job)
        return StreamingResponse(_stream_events(state, job, stream, cancel, to_chunks, opening, usage_chunk),
                                 media_type="text/event-stream", headers=SSE_HEADERS)

    result = await _generate(request, state, job)
    if result is None:
        return Response(status_code=499)
    choices = [{"index": c.index, "finish_reason": c.finish_reason, "logprobs": lp(c.logprobs),
                "message": {"role": "assistant", "content": c.text, "refusal": None}}
               for c in sorted(result.choices, key=lambda c: c.index)]
    return JSONResponse(R.chat_body(rid=rid, created=created, model_id=job.model, choices=choices,
                                    usage_=R.usage(result.prompt_tokens, result.completion_tokens),
                                    chunk=False))
