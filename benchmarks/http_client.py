"""aiohttp against httpx as the client of the inference server, measured side by side.

Starts the bundled simulator in its own process on a free loopback port, then sends the same
chat completion workload (whole answers, then streamed answers) through one pooled
`aiohttp.ClientSession` and one pooled `httpx.AsyncClient`, in alternating order over several
rounds. Each figure reported is the median over the rounds.

    python benchmarks/http_client.py [--requests N] [--concurrency C] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import importlib.metadata
import json
import math
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import aiohttp
import httpx

HOST = "127.0.0.1"
MODEL = "thinkingthoughts-sim"
REPLY_TOKENS = 32
CLIENTS = ("aiohttp", "httpx")
WORKLOADS = ("whole", "stream")
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "http_client.json"
REQUEST_TIMEOUT_SECONDS = 30.0
STARTUP_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 5.0
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
_MESSAGES = [
    {"role": "system", "content": "You are a friendly guide to a botanical garden."},
    {"role": "user", "content": "Which plants flower in early spring?"},
]
WHOLE_BODY = json.dumps({"model": MODEL, "messages": _MESSAGES, "stream": False}).encode()
STREAM_BODY = json.dumps({"model": MODEL, "messages": _MESSAGES, "stream": True}).encode()


@dataclass(frozen=True, slots=True)
class Sample:
    """One request: total latency, time to the first body byte, SSE data lines read."""

    latency: float
    first_byte: float
    data_lines: int


@dataclass(frozen=True, slots=True)
class RunResult:
    """One client, one workload, one round."""

    client: str
    workload: str
    round: int
    requests: int
    seconds: float
    requests_per_second: float
    latency_p50_ms: float
    latency_p99_ms: float
    first_byte_p50_ms: float | None
    client_cpu_ms_per_request: float
    server_cpu_ms_per_request: float | None
    data_lines_per_response: int


class Runner(Protocol):
    async def whole(self) -> Sample: ...
    async def stream(self) -> Sample: ...
    async def aclose(self) -> None: ...


class SseLineCounter:
    """Counts `data:` lines across arbitrarily split chunks, the same way for both clients."""

    def __init__(self) -> None:
        self._rest = b""
        self.data_lines = 0

    def feed(self, chunk: bytes) -> None:
        lines = (self._rest + chunk).split(b"\n")
        self._rest = lines.pop()
        self.data_lines += sum(1 for line in lines if line.startswith(b"data:"))


class AiohttpRunner:
    def __init__(self, base_url: str) -> None:
        self._url = base_url + "/v1/chat/completions"
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS),
        )

    async def whole(self) -> Sample:
        start = time.perf_counter()
        async with self._session.post(self._url, data=WHOLE_BODY, headers=HEADERS) as response:
            body = await response.read()
        _check_answer(response.status, body[:1] == b"{")
        return Sample(time.perf_counter() - start, 0.0, 0)

    async def stream(self) -> Sample:
        start = time.perf_counter()
        first_byte = 0.0
        counter = SseLineCounter()
        async with self._session.post(self._url, data=STREAM_BODY, headers=HEADERS) as response:
            _check_answer(response.status, ok=True)
            async for chunk in response.content.iter_any():
                if not first_byte:
                    first_byte = time.perf_counter() - start
                counter.feed(chunk)
        return Sample(time.perf_counter() - start, first_byte, counter.data_lines)

    async def aclose(self) -> None:
        await self._session.close()


class HttpxRunner:
    def __init__(self, base_url: str, concurrency: int) -> None:
        self._url = base_url + "/v1/chat/completions"
        self._client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=concurrency),
            timeout=httpx.Timeout(REQUEST_TIMEOUT_SECONDS),
            trust_env=False,  # proxy variables must not reroute loopback traffic
        )

    async def whole(self) -> Sample:
        start = time.perf_counter()
        response = await self._client.post(self._url, content=WHOLE_BODY, headers=HEADERS)
        _check_answer(response.status_code, response.content[:1] == b"{")
        return Sample(time.perf_counter() - start, 0.0, 0)

    async def stream(self) -> Sample:
        start = time.perf_counter()
        first_byte = 0.0
        counter = SseLineCounter()
        request = self._client.stream("POST", self._url, content=STREAM_BODY, headers=HEADERS)
        async with request as response:
            _check_answer(response.status_code, ok=True)
            async for chunk in response.aiter_bytes():
                if not first_byte:
                    first_byte = time.perf_counter() - start
                counter.feed(chunk)
        return Sample(time.perf_counter() - start, first_byte, counter.data_lines)

    async def aclose(self) -> None:
        await self._client.aclose()


def _check_answer(status: int, ok: bool) -> None:
    if status != 200 or not ok:
        raise RuntimeError(f"the simulator answered {status} or an unexpected body")


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1) of a non-empty list."""
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(share * len(ordered))))
    return ordered[rank - 1]


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def server_cpu_seconds(pid: int) -> float | None:
    """User plus system CPU of another process, from /proc; None where there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(
    call: Callable[[], Awaitable[Sample]], total: int, concurrency: int
) -> list[Sample]:
    """`total` calls spread over `concurrency` workers that share one job counter."""
    jobs = iter(range(total))
    samples: list[Sample] = []

    async def worker() -> None:
        for _ in jobs:
            samples.append(await call())

    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, total)):
            group.create_task(worker())
    return samples


async def measure(
    runner: Runner, *, client: str, workload: str, round_: int, args: argparse.Namespace, pid: int
) -> RunResult:
    call = runner.stream if workload == "stream" else runner.whole
    await drive(call, args.concurrency, args.concurrency)  # opens the pool's connections
    cpu_before, server_before = client_cpu_seconds(), server_cpu_seconds(pid)
    started = time.perf_counter()
    async with asyncio.timeout(args.run_timeout):
        samples = await drive(call, args.requests, args.concurrency)
    seconds = time.perf_counter() - started
    cpu = client_cpu_seconds() - cpu_before
    server_after = server_cpu_seconds(pid)
    server_cpu = (
        None if server_before is None or server_after is None else server_after - server_before
    )
    line_counts = {sample.data_lines for sample in samples}
    if len(line_counts) != 1:
        raise RuntimeError(f"responses differ in their number of data lines: {line_counts}")
    latencies = [sample.latency for sample in samples]
    return RunResult(
        client=client,
        workload=workload,
        round=round_,
        requests=len(samples),
        seconds=seconds,
        requests_per_second=len(samples) / seconds,
        latency_p50_ms=1000 * statistics.median(latencies),
        latency_p99_ms=1000 * percentile(latencies, 0.99),
        first_byte_p50_ms=(
            1000 * statistics.median(sample.first_byte for sample in samples)
            if workload == "stream"
            else None
        ),
        client_cpu_ms_per_request=1000 * cpu / len(samples),
        server_cpu_ms_per_request=None if server_cpu is None else 1000 * server_cpu / len(samples),
        data_lines_per_response=line_counts.pop(),
    )


def make_runner(client: str, base_url: str, concurrency: int) -> Runner:
    if client == "aiohttp":
        return AiohttpRunner(base_url)
    return HttpxRunner(base_url, concurrency)


async def run_all(args: argparse.Namespace, base_url: str, pid: int) -> list[RunResult]:
    results: list[RunResult] = []
    for workload in WORKLOADS:
        for round_ in range(args.rounds):
            # ABBA order, so that drift over time favours neither client.
            order = CLIENTS if round_ % 2 == 0 else CLIENTS[::-1]
            for client in order:
                runner = make_runner(client, base_url, args.concurrency)
                try:
                    result = await measure(
                        runner, client=client, workload=workload, round_=round_, args=args, pid=pid
                    )
                finally:
                    await runner.aclose()
                print(
                    f"  {workload:6} round {round_ + 1} {client:8} "
                    f"{result.requests_per_second:8.0f} req/s",
                    file=sys.stderr,
                    flush=True,
                )
                results.append(result)
    return results


SUMMARY_FIELDS = (
    "requests_per_second",
    "latency_p50_ms",
    "latency_p99_ms",
    "first_byte_p50_ms",
    "client_cpu_ms_per_request",
    "server_cpu_ms_per_request",
)


def summarize(results: Iterable[RunResult]) -> dict[str, dict[str, dict[str, float | None]]]:
    """Per workload and client, the median of each figure over the rounds."""
    summary: dict[str, dict[str, dict[str, float | None]]] = {}
    for workload in WORKLOADS:
        summary[workload] = {}
        for client in CLIENTS:
            runs = [r for r in results if r.workload == workload and r.client == client]
            medians: dict[str, float | None] = {}
            for field in SUMMARY_FIELDS:
                values = [getattr(run, field) for run in runs]
                medians[field] = None if None in values else statistics.median(values)
            summary[workload][client] = medians
        summary[workload]["aiohttp/httpx"] = {
            field: _ratio(summary[workload]["aiohttp"][field], summary[workload]["httpx"][field])
            for field in SUMMARY_FIELDS
        }
    return summary


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def markdown_table(summary: dict[str, dict[str, dict[str, float | None]]]) -> str:
    header = (
        "| workload | client | req/s | p50 ms | p99 ms | first byte p50 ms "
        "| client CPU ms/req | server CPU ms/req |"
    )
    lines = [header, "|---|---|--:|--:|--:|--:|--:|--:|"]
    for workload, rows in summary.items():
        for client, figures in rows.items():
            ratio = "/" in client
            cells = [_cell(figures[field], ratio) for field in SUMMARY_FIELDS]
            lines.append(f"| {workload} | {client} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: float | None, ratio: bool) -> str:
    if value is None:
        return "-"
    if ratio:
        return f"{value:.2f}x"
    return f"{value:.0f}" if value >= 100 else f"{value:.2f}"


def machine_info(loop: str) -> dict[str, object]:
    packages = ("aiohttp", "httpx", "httpcore", "h11", "anyio", "uvloop")
    return {
        "nproc": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu": _cpu_model(),
        "system": platform.platform(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "event_loop": loop,
        "aiohttp_c_parser": aiohttp.http_parser.HttpResponseParser.__module__.endswith("_parser"),
        "versions": {name: importlib.metadata.version(name) for name in packages},
    }


def _cpu_model() -> str:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def start_simulator(port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "thinkingthoughts", "simulate", "--host", HOST]
    command += ["--port", str(port), "--reply-tokens", str(REPLY_TOKENS)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: S603 - fixed argv


def wait_until_healthy(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the simulator exited with status {process.returncode}")
        connection = http.client.HTTPConnection(HOST, port, timeout=1)
        try:
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.1)
    raise RuntimeError(f"the simulator did not answer /health within {STARTUP_TIMEOUT_SECONDS}s")


def stop_simulator(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_SECONDS)


def run_event_loop(args: argparse.Namespace, base_url: str, pid: int) -> list[RunResult]:
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if args.loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(run_all(args, base_url, pid))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=3000, help="timed requests per run")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent workers")
    parser.add_argument("--rounds", type=int, default=3, help="runs per client and workload")
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="event loop of the client (the gateway runs on uvloop under uvicorn)",
    )
    parser.add_argument("--run-timeout", type=float, default=120.0, help="seconds per run")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    args = parser.parse_args(argv)
    for name in ("requests", "concurrency", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    port = free_port()
    simulator = start_simulator(port)
    try:
        wait_until_healthy(simulator, port)
        results = run_event_loop(args, f"http://{HOST}:{port}", simulator.pid)
    finally:
        stop_simulator(simulator)
    summary = summarize(results)
    report = {
        "machine": machine_info(args.loop),
        "settings": {
            "requests": args.requests,
            "concurrency": args.concurrency,
            "rounds": args.rounds,
            "reply_tokens": REPLY_TOKENS,
            "figures": "median over rounds",
        },
        "summary": summary,
        "runs": [asdict(result) for result in results],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown_table(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
