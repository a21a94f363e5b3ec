"""A small run of every benchmark scenario, through the real command and real processes,
so the benchmarks cannot rot. Figures are not judged here (this machine is shared and
noisy); what is checked is that each scenario measures every target it names, without an
error, and writes its table and its JSON."""

from __future__ import annotations

import json
import traceback
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from thinkingthoughts.cli import app

runner = CliRunner()


def run_bench(tmp_path: Path, scenario: str, *options: str) -> tuple[str, dict[str, Any]]:
    """`thinkingthoughts bench SCENARIO --smoke` in this process (its servers in their own)."""
    results = tmp_path / "results"
    done = runner.invoke(app, ["bench", scenario, "--smoke", "--json-dir", str(results), *options])
    assert done.exit_code == 0, done.output[-3000:] + _failure(done)
    report = json.loads((results / f"{scenario}.json").read_text())
    assert report["machine"]["cpus"] >= 1
    (scenario_report,) = report["scenarios"]
    assert scenario_report["scenario"] == scenario
    return done.stdout, scenario_report


def _failure(done: Result) -> str:
    if done.exc_info is None or isinstance(done.exc_info[1], SystemExit):
        return ""
    return "".join(traceback.format_exception(done.exc_info[1]))[-3000:]


def targets(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {summary["target"]: summary for summary in report["summaries"]}


def assert_clean(summary: dict[str, Any], requests: int) -> None:
    assert summary["requests"] == requests
    assert summary["errors"] == 0
    assert summary["stalled"] == 0
    assert summary["rps"] > 0
    assert summary["p50_ms"] <= summary["p99_ms"]


def test_chat_measures_the_gateway_beside_the_simulator_and_the_passthrough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The caller's .env names a database nobody could reach: the bench must not use it.
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("DATABASE_URL=postgresql://nobody@127.0.0.1:9/none\n")
    table, report = run_bench(tmp_path, "chat")
    measured = targets(report)
    assert {"gateway", "direct", "passthrough"} <= set(measured)
    for summary in measured.values():
        assert_clean(summary, requests=60)
        # Measured from /proc in clock ticks: a short run of a fast server may take none.
        assert summary["server_cpu_ms"] is not None
        assert summary["server_cpu_ms"] >= 0
    checks = {check["name"]: check for check in report["checks"]}
    assert checks["req/s ≥ ½ the bare passthrough"]["met"] in (True, False)
    assert "| gateway | 60 |" in table


def test_stream_times_the_first_token_at_both_client_counts(tmp_path: Path) -> None:
    _, report = run_bench(tmp_path, "stream", "--no-compare")
    measured = targets(report)
    assert set(measured) == {"gateway @4", "direct @4", "gateway @8", "direct @8"}
    for summary in measured.values():
        assert_clean(summary, requests=60)
        assert 0 < summary["ttft_p50_ms"] <= summary["p50_ms"]
    crowded = next(c for c in report["checks"] if "no error" in c["name"])
    assert crowded["met"] is True


def test_openai_streams_a_persona_model(tmp_path: Path) -> None:
    _, report = run_bench(tmp_path, "openai", "--no-compare")
    measured = targets(report)
    assert set(measured) == {"gateway", "direct"}
    for summary in measured.values():
        assert_clean(summary, requests=60)
        assert summary["ttft_p50_ms"] is not None


def test_long_session_times_turns_in_sessions_of_each_size(tmp_path: Path) -> None:
    _, report = run_bench(tmp_path, "long-session")
    measured = targets(report)
    assert set(measured) == {"10 messages", "200 messages"}
    for summary in measured.values():
        assert_clean(summary, requests=20)


def test_soak_samples_resident_memory(tmp_path: Path) -> None:
    _, report = run_bench(tmp_path, "soak")
    assert_clean(targets(report)["gateway"], requests=120)
    samples = report["series"]["resident memory (requests, MiB)"]
    assert [done for done, _ in samples] == [60, 120]
    assert all(mib > 10 for _, mib in samples)


def test_prefix_stability_records_every_turns_prompt(tmp_path: Path) -> None:
    table, report = run_bench(tmp_path, "prefix-stability")
    assert report["options"] == {"requests": 40, "concurrency": 1, "max_model_len": 1024}
    (check,) = report["checks"]
    assert check["met"] in (True, False)
    assert check["measured"].endswith("%")
    breaks = report["series"]["turns whose prompt does not extend the previous one"]
    assert all(0 < turn < 40 for turn in breaks)
    # The small context is outgrown: some turns sent only part of the history.
    assert "40 turns;" in table
    assert " 0 sent only part" not in table


@pytest.mark.postgres
def test_postgres_runs_chat_with_two_workers(tmp_path: Path, postgres_database_url: str) -> None:
    _, report = run_bench(
        tmp_path, "postgres", "--no-compare", "--database-url", postgres_database_url
    )
    assert report["options"]["workers"] == 2
    assert_clean(targets(report)["gateway"], requests=60)


def test_an_unknown_scenario_is_refused() -> None:
    done = runner.invoke(app, ["bench", "nope"])
    assert done.exit_code == 2
    assert "no scenario 'nope'" in done.output


def test_postgres_without_a_database_url_is_refused(tmp_path: Path) -> None:
    done = runner.invoke(app, ["bench", "postgres", "--smoke", "--json-dir", str(tmp_path)])
    assert done.exit_code == 1
    assert "needs --database-url" in done.output
