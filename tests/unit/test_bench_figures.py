"""The benchmark's pure parts: how lines of a stream are read, how a run is summarised and
how the report says what was met."""

from __future__ import annotations

import math

import pytest

from thinkingthoughts.bench.loadgen import LoadRun, Sample, is_end_line, is_token_line
from thinkingthoughts.bench.report import Check, ScenarioReport, as_json, markdown
from thinkingthoughts.bench.stats import added_ms, percentile, ratio, summarize


@pytest.mark.parametrize(
    ("line", "previous", "carries_text"),
    [
        (b'data: {"content": "Hi"}', b"event: delta", True),
        (b'data: {"session_id": "s"}', b"event: start", False),
        (b'data: {"choices": [{"delta": {"content": "Hi"}}]}', b"", True),
        (b'data: {"choices": [{"delta": {"role": "assistant", "content": ""}}]}', b"", False),
        (b'data: {"choices": []}', b"", False),
        (b"data: [DONE]", b"", False),
        (b"data: {not json", b"", False),
        (b": ping", b"", False),
    ],
)
def test_lines_that_carry_reply_text_are_told_apart(
    line: bytes, previous: bytes, carries_text: bool
) -> None:
    assert is_token_line(line, previous) is carries_text


def test_both_kinds_of_stream_end_are_recognised() -> None:
    assert is_end_line(b"event: done")
    assert is_end_line(b"data: [DONE]")
    assert not is_end_line(b"event: delta")


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([3.0], 0.99) == 3.0
    assert math.isnan(percentile([], 0.5))


def test_a_run_is_summarised_from_its_good_samples_only() -> None:
    run = LoadRun(
        samples=[
            Sample(latency=0.010, first_token=0.002, tokens=9),
            Sample(latency=0.020, first_token=0.004, tokens=9),
            Sample(latency=5.0, error="HTTP 502", status=502),
            Sample(latency=6.0, first_token=0.001, tokens=1, stalled=True),
        ],
        elapsed=2.0,
        loadgen_cpu=0.004,
    )
    summary = summarize("gateway", run, server_cpu_seconds=0.008)

    assert (summary.requests, summary.errors, summary.stalled) == (4, 1, 1)
    assert summary.rps == 1.0  # two good answers in two seconds
    assert summary.p50_ms == pytest.approx(10.0)
    assert summary.p99_ms == pytest.approx(20.0)
    assert summary.ttft_p50_ms == pytest.approx(2.0)
    # 8 tokens after the first in 8 ms (1000/s) and in 16 ms (500/s): the lower median
    assert summary.tokens_per_s == pytest.approx(500.0)
    assert summary.server_cpu_ms == pytest.approx(2.0)
    assert summary.loadgen_cpu_ms == pytest.approx(1.0)


def test_ratios_and_differences_are_missing_when_a_side_is() -> None:
    assert ratio(300.0, 100.0) == 3.0
    assert ratio(1.0, 0.0) is None
    assert ratio(None, 1.0) is None
    assert ratio(math.nan, 1.0) is None
    assert added_ms(7.5, 2.5) == 5.0
    assert added_ms(1.0, None) is None


def test_the_report_says_which_targets_were_met_and_writes_json_without_nan() -> None:
    run = LoadRun(samples=[Sample(latency=0.01)], elapsed=0.01, loadgen_cpu=0.0)
    report = ScenarioReport(
        scenario="chat",
        description="Native chat.",
        options={"requests": 1, "concurrency": 1},
        summaries=[summarize("gateway", run, server_cpu_seconds=None)],
        checks=[
            Check("fast", "1.00 ms", True),
            Check("faster", "9.00 ms", False),
            Check("vs LiteLLM", "not installed", None),
        ],
    )
    text = markdown(report)

    assert "| gateway | 1 | 100 | 10.00 |" in text
    assert "| fast | 1.00 ms | yes |" in text
    assert "| faster | 9.00 ms | **no** |" in text
    assert "| vs LiteLLM | not installed | not measured |" in text
    written = as_json([report])["scenarios"][0]
    assert written["summaries"][0]["ttft_p50_ms"] is None
    assert written["summaries"][0]["server_cpu_ms"] is None
