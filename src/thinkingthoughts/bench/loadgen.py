"""A closed-loop load generator: C workers, each sending its next request as soon as the
last one is answered, until N requests are done. One pooled aiohttp session.

Whole answers are timed to the last byte. Streams are read line by line: the time to the
first token is taken at the first line that carries reply text, and a stream that goes
silent for `stall_after` seconds, or ends without its closing event, counts as stalled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import aiohttp
import orjson

DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_STALL_SECONDS = 5.0
NATIVE_TOKEN_EVENT = b"event: delta"
NATIVE_END_EVENT = b"event: done"
OPENAI_END_LINE = b"data: [DONE]"


@dataclass(frozen=True)
class Call:
    """One request: where, what, and how its answer is read."""

    url: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    stream: bool = False


CallFor = Callable[[int, int], Call]
"""(worker index, request number) → the request to send."""


@dataclass(frozen=True)
class Sample:
    """What one request gave: seconds to its end and to its first token (streams)."""

    latency: float
    first_token: float | None = None
    tokens: int = 0
    status: int = 200
    error: str | None = None
    stalled: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.stalled


@dataclass(frozen=True)
class LoadRun:
    samples: list[Sample]
    elapsed: float
    loadgen_cpu: float
    """CPU seconds the load generator itself spent (user + system)."""


def is_token_line(line: bytes, previous: bytes) -> bool:
    """Does this SSE line carry reply text? Native streams name their events; OpenAI
    streams put the text in `choices[0].delta.content`."""
    if previous.startswith(NATIVE_TOKEN_EVENT):
        return line.startswith(b"data:")
    if not line.startswith(b"data: {"):
        return False
    try:
        chunk = orjson.loads(line[6:])
    except orjson.JSONDecodeError:
        return False
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    if not choices or not isinstance(choices[0], dict):
        return False
    delta = choices[0].get("delta") or {}
    return bool(isinstance(delta, dict) and delta.get("content"))


def is_end_line(line: bytes) -> bool:
    return line.startswith(NATIVE_END_EVENT) or line.startswith(OPENAI_END_LINE)


async def run_load(
    call_for: CallFor,
    *,
    total: int,
    concurrency: int,
    request_timeout: float = DEFAULT_TIMEOUT_SECONDS,
    stall_after: float = DEFAULT_STALL_SECONDS,
) -> LoadRun:
    """Send `total` requests from `concurrency` workers; every answer becomes a Sample."""
    samples: list[Sample] = []
    counter = iter(range(total))
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    client_timeout = aiohttp.ClientTimeout(total=request_timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:

        async def worker(index: int) -> None:
            for number in counter:
                samples.append(await _send(session, call_for(index, number), stall_after))

        cpu_before = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
    return LoadRun(samples=samples, elapsed=elapsed, loadgen_cpu=cpu)


async def _send(session: aiohttp.ClientSession, call: Call, stall_after: float) -> Sample:
    started = time.perf_counter()
    try:
        async with session.post(call.url, data=call.body, headers=call.headers) as response:
            if response.status >= 400 or not call.stream:
                await response.read()
                error = f"HTTP {response.status}" if response.status >= 400 else None
                return Sample(time.perf_counter() - started, status=response.status, error=error)
            return await _read_stream(response, started, stall_after)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Sample(time.perf_counter() - started, status=0, error=type(exc).__name__)


async def _read_stream(
    response: aiohttp.ClientResponse, started: float, stall_after: float
) -> Sample:
    first_token: float | None = None
    tokens, ended, stalled = 0, False, False
    previous = b""
    last_line_at = started
    while True:
        try:
            line = await asyncio.wait_for(response.content.readline(), stall_after)
        except TimeoutError:
            stalled = True
            break
        if not line:
            break
        now = time.perf_counter()
        last_line_at = now
        line = line.rstrip(b"\r\n")
        if is_token_line(line, previous):
            tokens += 1
            if first_token is None:
                first_token = now - started
        ended = ended or is_end_line(line)
        previous = line
    return Sample(
        latency=last_line_at - started,
        first_token=first_token,
        tokens=tokens,
        status=response.status,
        stalled=stalled or not ended,
    )
