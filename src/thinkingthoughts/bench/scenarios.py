"""The scenarios of `thinkingthoughts bench`: each starts its targets, runs the same load
against each of them in one go, and reports the figures with the targets checked."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from thinkingthoughts.bench.loadgen import CallFor, LoadRun, run_load
from thinkingthoughts.bench.prefix_stability import (
    measure_prefix_stability,
    prefix_stability_report,
)
from thinkingthoughts.bench.processes import ServerProcess
from thinkingthoughts.bench.report import Check, ScenarioReport
from thinkingthoughts.bench.seeding import seed_long_sessions
from thinkingthoughts.bench.stats import Summary, added_ms, ratio, summarize
from thinkingthoughts.bench.targets import (
    Stack,
    native_chat_call,
    open_sessions,
    openai_persona_call,
    started_stack,
)

WARMUP_SHARE = 0.1
MAX_WARMUP = 500


@dataclass(frozen=True)
class BenchOptions:
    workdir: Path
    requests: int = 3000
    concurrency: int = 32
    compare: bool = True
    """Also measure the bare passthrough and LiteLLM (when installed)."""
    high_concurrency: int = 256
    session_sizes: tuple[int, ...] = (10, 1_000, 10_000)
    soak_requests: int = 100_000
    soak_sample_every: int = 10_000
    database_url: str | None = None
    workers: int = 2
    litellm: str | None = None
    """The `litellm` command; default: found beside Python or on PATH."""
    prefix_turns: int = 400
    prefix_context: int = 4096
    """The model's context in the prefix-stability session: a few times smaller than the
    conversation grows, so the history is evicted again and again."""


def measure(
    label: str, server: ServerProcess, call_for: CallFor, *, total: int, concurrency: int
) -> Summary:
    """Warm the target up (not counted), then run the timed load and summarise it."""
    warmup = min(MAX_WARMUP, max(concurrency, int(total * WARMUP_SHARE)))
    asyncio.run(run_load(call_for, total=warmup, concurrency=concurrency))
    cpu_before = server.cpu_seconds()
    run = asyncio.run(run_load(call_for, total=total, concurrency=concurrency))
    cpu_after = server.cpu_seconds()
    cpu = _cpu_spent(cpu_before, cpu_after)
    return summarize(label, run, server_cpu_seconds=cpu)


def chat(options: BenchOptions) -> ScenarioReport:
    """Native non-streaming chat: every request a turn stored in the session of its worker."""
    report = _report("chat", chat.__doc__, options, options.requests, options.concurrency)
    with started_stack(
        options.workdir / "chat", compare=options.compare, litellm=options.litellm
    ) as stack:
        _chat_rows(report, stack, options)
    _check_gateway_against(report)
    return report


def postgres(options: BenchOptions) -> ScenarioReport:
    """The `chat` scenario with the gateway on PostgreSQL and several workers."""
    if options.database_url is None:
        raise ValueError("the postgres scenario needs --database-url postgresql://...")
    report = _report("postgres", postgres.__doc__, options, options.requests, options.concurrency)
    report.options["workers"] = options.workers
    with started_stack(
        options.workdir / "postgres",
        compare=options.compare,
        litellm=options.litellm,
        workers=options.workers,
        database_url=options.database_url,
    ) as stack:
        _chat_rows(report, stack, options)
    _check_gateway_against(report)
    return report


def _chat_rows(report: ScenarioReport, stack: Stack, options: BenchOptions) -> None:
    sessions = asyncio.run(open_sessions(stack, options.concurrency))
    load = {"total": options.requests, "concurrency": options.concurrency}
    gateway_call = native_chat_call(stack, sessions, stream=False)
    report.summaries.append(measure("gateway", stack.gateway, gateway_call, **load))
    for label, server in stack.comparisons():
        call = stack.upstream_call(server, stream=False)
        report.summaries.append(measure(label, server, call, **load))


def stream(options: BenchOptions) -> ScenarioReport:
    """Native streaming, 32-token replies: time to first token and tokens per second as the
    client sees them, at the usual and at a high number of clients."""
    report = _report("stream", stream.__doc__, options, options.requests, options.concurrency)
    report.options["high_concurrency"] = options.high_concurrency
    with started_stack(options.workdir / "stream", compare=options.compare) as stack:
        for clients in (options.concurrency, options.high_concurrency):
            sessions = asyncio.run(open_sessions(stack, clients))
            load = {"total": max(options.requests, clients * 2), "concurrency": clients}
            gateway_call = native_chat_call(stack, sessions, stream=True)
            report.summaries.append(
                measure(f"gateway @{clients}", stack.gateway, gateway_call, **load)
            )
            report.summaries.append(
                measure(
                    f"direct @{clients}",
                    stack.simulator,
                    stack.upstream_call(stack.simulator, stream=True),
                    **load,
                )
            )
    low, high = options.concurrency, options.high_concurrency
    gateway, direct = report.summary(f"gateway @{low}"), report.summary(f"direct @{low}")
    crowded = report.summary(f"gateway @{high}")
    report.checks.append(
        _at_most(
            f"TTFT added over direct at {low} clients ≤ 5 ms (median)",
            added_ms(_ttft(gateway), _ttft(direct)),
            limit_ms=5.0,
        )
    )
    if crowded is not None:
        report.checks.append(
            Check(
                f"no error and no stalled stream at {high} clients",
                f"{crowded.errors} errors, {crowded.stalled} stalled of {crowded.requests}",
                crowded.errors == 0 and crowded.stalled == 0,
            )
        )
    return report


def openai(options: BenchOptions) -> ScenarioReport:
    """The OpenAI-compatible route, streamed, with a persona as the model (no session)."""
    report = _report("openai", openai.__doc__, options, options.requests, options.concurrency)
    load = {"total": options.requests, "concurrency": options.concurrency}
    with started_stack(
        options.workdir / "openai", compare=options.compare, litellm=options.litellm
    ) as stack:
        report.summaries.append(
            measure("gateway", stack.gateway, openai_persona_call(stack), **load)
        )
        for label, server in stack.comparisons():
            call = stack.upstream_call(server, stream=True)
            report.summaries.append(measure(label, server, call, **load))
    gateway, direct = report.summary("gateway"), report.summary("direct")
    report.checks.append(
        _at_most(
            "TTFT added over direct ≤ 5 ms (median)",
            added_ms(_ttft(gateway), _ttft(direct)),
            limit_ms=5.0,
        )
    )
    return report


def long_session(options: BenchOptions) -> ScenarioReport:
    """Gateway time for a turn in sessions of many stored messages, one client at a time
    (the upstream's share is the same for every size; the difference is the gateway's)."""
    turns = max(20, options.requests // 10)
    report = _report("long-session", long_session.__doc__, options, turns, 1)
    report.options["session_sizes"] = list(options.session_sizes)
    workdir = options.workdir / "long-session"
    with started_stack(workdir, compare=False) as stack:
        sessions = asyncio.run(seed_long_sessions(stack, sizes=options.session_sizes))
        for size, session_id in zip(options.session_sizes, sessions, strict=True):
            call = native_chat_call(stack, [session_id], stream=False)
            report.summaries.append(
                measure(f"{size} messages", stack.gateway, call, total=turns, concurrency=1)
            )
    smallest = report.summary(f"{options.session_sizes[0]} messages")
    largest = report.summary(f"{options.session_sizes[-1]} messages")
    report.checks.append(
        _at_most(
            f"{options.session_sizes[-1]:,} stored messages cost ≤ 2 ms more than "
            f"{options.session_sizes[0]} (median)",
            added_ms(largest.p50_ms if largest else None, smallest.p50_ms if smallest else None),
            limit_ms=2.0,
        )
    )
    return report


def soak(options: BenchOptions) -> ScenarioReport:
    """Many native chat turns in a row; the gateway's resident memory sampled as they go."""
    report = _report("soak", soak.__doc__, options, options.soak_requests, options.concurrency)
    report.options["sample_every"] = options.soak_sample_every
    samples: list[tuple[int, float]] = []
    runs: list[LoadRun] = []
    with started_stack(options.workdir / "soak", compare=False) as stack:
        sessions = asyncio.run(open_sessions(stack, options.concurrency))
        call = native_chat_call(stack, sessions, stream=False)
        cpu_before = stack.gateway.cpu_seconds()
        done = 0
        while done < options.soak_requests:
            chunk = min(options.soak_sample_every, options.soak_requests - done)
            runs.append(asyncio.run(run_load(call, total=chunk, concurrency=options.concurrency)))
            done += chunk
            rss = stack.gateway.rss_bytes()
            samples.append((done, round(rss / 2**20, 1) if rss is not None else float("nan")))
        cpu_after = stack.gateway.cpu_seconds()
    cpu = _cpu_spent(cpu_before, cpu_after)
    whole = LoadRun(
        samples=[s for run in runs for s in run.samples],
        elapsed=sum(run.elapsed for run in runs),
        loadgen_cpu=sum(run.loadgen_cpu for run in runs),
    )
    report.summaries.append(summarize("gateway", whole, server_cpu_seconds=cpu))
    report.series["resident memory (requests, MiB)"] = [list(pair) for pair in samples]
    if len(samples) >= 2:
        growth = ratio(samples[-1][1], samples[0][1])
        report.checks.append(
            Check(
                f"resident memory after {samples[-1][0]:,} requests within 10% of after "
                f"{samples[0][0]:,}",
                f"{samples[0][1]} → {samples[-1][1]} MiB"
                + (f" ({(growth - 1) * 100:+.1f}%)" if growth is not None else ""),
                None if growth is None else growth <= 1.10,
            )
        )
    return report


def prefix_stability(options: BenchOptions) -> ScenarioReport:
    """One long native session, one turn at a time, on a model whose small context the
    history outgrows several times: the share of turns whose upstream prompt begins with
    the previous turn's whole prompt (what a prefix cache reuses)."""
    report = _report("prefix-stability", prefix_stability.__doc__, options, options.prefix_turns, 1)
    report.options["max_model_len"] = options.prefix_context
    run, cpu_per_turn = measure_prefix_stability(
        options.workdir / "prefix-stability",
        turns=options.prefix_turns,
        max_model_len=options.prefix_context,
    )
    prefix_stability_report(report, run, cpu_per_turn)
    return report


def _check_gateway_against(report: ScenarioReport) -> None:
    gateway = report.summary("gateway")
    if gateway is None:
        return
    litellm, bare, direct = (report.summary(n) for n in ("litellm", "passthrough", "direct"))
    versus_litellm = ratio(gateway.rps, litellm.rps if litellm else None)
    versus_bare = ratio(gateway.rps, bare.rps if bare else None)
    report.checks += [
        Check(
            "req/s ≥ 10× LiteLLM proxy",
            f"{versus_litellm:.1f}×" if versus_litellm is not None else "LiteLLM not installed",
            None if versus_litellm is None else versus_litellm >= 10,
        ),
        Check(
            "req/s ≥ ½ the bare passthrough",
            f"{versus_bare:.2f}×" if versus_bare is not None else "-",
            None if versus_bare is None else versus_bare >= 0.5,
        ),
        _at_most(
            "median latency added over direct ≤ 5 ms",
            added_ms(gateway.p50_ms, direct.p50_ms if direct else None),
            limit_ms=5.0,
        ),
    ]


def _at_most(name: str, added: float | None, *, limit_ms: float) -> Check:
    """A target on milliseconds added: met when `added` is at most `limit_ms`."""
    measured = f"{added:+.2f} ms" if added is not None else "-"
    return Check(name, measured, None if added is None else added <= limit_ms)


def _cpu_spent(before: float | None, after: float | None) -> float | None:
    return after - before if before is not None and after is not None else None


def _ttft(summary: Summary | None) -> float | None:
    return summary.ttft_p50_ms if summary else None


def _report(
    name: str, doc: str | None, options: BenchOptions, requests: int, concurrency: int
) -> ScenarioReport:
    return ScenarioReport(
        scenario=name,
        description=" ".join((doc or "").split()),
        options={"requests": requests, "concurrency": concurrency},
    )


SCENARIOS: dict[str, Callable[[BenchOptions], ScenarioReport]] = {
    "chat": chat,
    "stream": stream,
    "openai": openai,
    "long-session": long_session,
    "soak": soak,
    "postgres": postgres,
    "prefix-stability": prefix_stability,
}


def smoke_options(options: BenchOptions) -> BenchOptions:
    """A small run of the same code, for the test suite: seconds, not minutes."""
    return replace(
        options,
        requests=60,
        concurrency=4,
        high_concurrency=8,
        session_sizes=(10, 200),
        soak_requests=120,
        soak_sample_every=60,
        prefix_turns=40,
        prefix_context=1024,
    )
