"""The `thinkingthoughts` command line."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import aiohttp
import orjson
import typer
from pydantic import ValidationError

from thinkingthoughts.access.api_keys import Scope
from thinkingthoughts.access.key_management import (
    get_key,
    list_keys,
    revoke_key,
    rotate_key,
    update_key,
)
from thinkingthoughts.access.key_policy import POLICY_FIELDS, KeyPolicy, allow_list
from thinkingthoughts.errors import GatewayError
from thinkingthoughts.extras import extras_for, missing_driver_problem, missing_extras
from thinkingthoughts.launcher import gateway_port_problem, run_stack, run_ui, serve_gateway
from thinkingthoughts.operations import (
    create_api_key,
    describe_key,
    describe_usage,
    export_session,
    import_legacy_personas,
    parse_age,
    purge_sessions,
    with_database,
)
from thinkingthoughts.settings import Settings, describe_settings_error
from thinkingthoughts.simulator.config import SimulatorConfig
from thinkingthoughts.simulator.server import run_simulator
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.migrate import upgrade_database
from thinkingthoughts.usage.report import UsageReport, read_usage_report

T = TypeVar("T")

app = typer.Typer(
    help="ThinkingThoughts: persona chat gateway for OpenAI-compatible inference servers.",
    no_args_is_help=True,
    add_completion=False,
)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
personas_app = typer.Typer(help="Personas.", no_args_is_help=True)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
sessions_app = typer.Typer(help="Stored conversations.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(personas_app, name="personas")
app.add_typer(db_app, name="db")
app.add_typer(sessions_app, name="sessions")

HostOption = Annotated[str | None, typer.Option(help="Interface to listen on.")]
PortOption = Annotated[int | None, typer.Option(help="Port to listen on.")]
KeyRef = Annotated[str, typer.Argument(help="The key's id or visible prefix.")]
LimitOption = Annotated[int | None, typer.Option(min=0, help="0: no limit.")]
AllowOption = Annotated[list[str] | None, typer.Option(help="Repeat to allow several.")]


def load_settings() -> Settings:
    """Read the settings, or stop with one readable line naming the wrong variable."""
    try:
        return Settings()
    except ValidationError as exc:
        typer.echo(f"error: {describe_settings_error(exc)}", err=True)
        raise typer.Exit(code=2) from exc


def load_gateway_settings() -> Settings:
    """`load_settings` for commands that open the database or start the gateway: a
    driver the settings need but that is not installed stops them here, before anything
    is created, with the extra to install."""
    settings = load_settings()
    problem = missing_driver_problem(settings)
    if problem is not None:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(code=2)
    return settings


@app.command()
def extras(
    missing: Annotated[bool, typer.Option(help="Only those not installed yet.")] = False,
    ui: Annotated[bool, typer.Option(help="Count the chat UI's extra.")] = True,
) -> None:
    """Print the extras the current settings (environment and .env) need, comma-separated,
    for `pip install 'thinkingthoughts[...]'`; `make run` installs them."""
    needed = extras_for(load_settings(), with_ui=ui)
    typer.echo(",".join(missing_extras(needed) if missing else needed))


@app.command()
def serve(
    host: HostOption = None,
    port: PortOption = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (one per core); limits need REDIS_URL.")
    ] = 1,
) -> None:
    """Run the gateway against LLM_BASE_URL."""
    settings = load_gateway_settings()
    if settings.llm_base_url is None:
        typer.echo(
            "error: LLM_BASE_URL is not set; point it at vLLM or an OpenAI-compatible server, "
            "or use `thinkingthoughts up` to run with the bundled simulator",
            err=True,
        )
        raise typer.Exit(code=2)
    host, port = host or settings.host, port or settings.port
    problem = gateway_port_problem(host, port)
    if problem is not None:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(code=1)
    serve_gateway(settings, host=host, port=port, workers=workers)


@app.command()
def up(
    host: HostOption = None,
    port: PortOption = None,
    ui: Annotated[bool, typer.Option(help="Start the chat UI too (port TT_UI_PORT).")] = True,
) -> None:
    """Run the gateway and the chat UI, with the bundled simulator when no LLM_BASE_URL
    is set; Ctrl-C stops them all."""
    settings = load_gateway_settings()
    code = run_stack(settings, host=host or settings.host, port=port or settings.port, with_ui=ui)
    raise typer.Exit(code=code)


@app.command("ui")
def ui_page(
    host: HostOption = None,
    gateway_url: Annotated[
        str | None,
        typer.Option(help="The gateway's URL (default: STREAMLIT_BACKEND_API_URL, else TT_PORT)."),
    ] = None,
) -> None:
    """Run the chat UI alone (Streamlit, port TT_UI_PORT), against a running gateway."""
    settings = load_settings()
    raise typer.Exit(code=run_ui(settings, host=host or settings.host, gateway_url=gateway_url))


@app.command()
def simulate(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    model: Annotated[str, typer.Option(help="Model name to serve.")] = "thinkingthoughts-sim",
    ttft: Annotated[float, typer.Option(help="Time to first token, seconds.")] = 0.0,
    itl: Annotated[float, typer.Option(help="Inter-token latency, seconds.")] = 0.0,
    reply_tokens: Annotated[int, typer.Option(help="Tokens per reply.")] = 32,
    max_model_len: Annotated[int, typer.Option(help="Context length, tokens.")] = 4096,
    fail_429: Annotated[float, typer.Option(help="Share of requests answered 429.")] = 0.0,
    fail_500: Annotated[float, typer.Option(help="Share of requests answered 500.")] = 0.0,
    drop_rate: Annotated[float, typer.Option(help="Share of connections dropped.")] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed for injected failures.")] = 0,
) -> None:
    """Run the bundled OpenAI-compatible inference simulator (replies are simulated)."""

    try:
        config = SimulatorConfig(
            model=model,
            time_to_first_token=ttft,
            inter_token_latency=itl,
            reply_tokens=reply_tokens,
            max_model_len=max_model_len,
            fail_429_rate=fail_429,
            fail_500_rate=fail_500,
            drop_rate=drop_rate,
            seed=seed,
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    run_simulator(config, host=host, port=port)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A name for humans.")],
    scope: Annotated[Scope, typer.Option(help="What the key may do.")] = Scope.CHAT,
    owner: Annotated[
        str | None, typer.Option(help="Who owns its sessions (default: the key itself).")
    ] = None,
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, help="Refuse the key after this many days.")
    ] = None,
    requests_per_minute: LimitOption = None,
    tokens_per_minute: LimitOption = None,
    concurrent_streams: LimitOption = None,
    allow_persona: AllowOption = None,
    allow_model: AllowOption = None,
) -> None:
    """Create a key and print its secret alone on stdout (it is never shown again).

    Limits not given follow the gateway's defaults (TT_KEY_*); without --allow-persona
    or --allow-model, every persona and model is allowed."""
    settings = load_gateway_settings()
    policy = KeyPolicy(
        requests_per_minute=requests_per_minute,
        tokens_per_minute=tokens_per_minute,
        concurrent_streams=concurrent_streams,
        allowed_personas=allow_list(allow_persona or None),
        allowed_models=allow_list(allow_model or None),
    )
    secret = asyncio.run(
        create_api_key(
            settings,
            name=name,
            scope=scope,
            owner=owner,
            expires_in_days=expires_in_days,
            policy=policy,
        )
    )
    typer.echo(secret)


@keys_app.command("set")
def keys_set(
    ref: KeyRef,
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    requests_per_minute: LimitOption = None,
    tokens_per_minute: LimitOption = None,
    concurrent_streams: LimitOption = None,
    allow_persona: AllowOption = None,
    allow_model: AllowOption = None,
    reset: Annotated[
        list[str] | None,
        typer.Option(help="Return a limit or allow-list to the default, e.g. tokens_per_minute."),
    ] = None,
) -> None:
    """Change a key's name, limits or allow-lists; what is not given stays."""
    settings = load_gateway_settings()
    changes: dict[str, object] = {
        field: value
        for field, value in (
            ("requests_per_minute", requests_per_minute),
            ("tokens_per_minute", tokens_per_minute),
            ("concurrent_streams", concurrent_streams),
            ("allowed_personas", allow_persona or None),
            ("allowed_models", allow_model or None),
        )
        if value is not None
    }
    for field in reset or []:
        if field not in POLICY_FIELDS:
            typer.echo(f"error: --reset takes one of {', '.join(sorted(POLICY_FIELDS))}", err=True)
            raise typer.Exit(code=2)
        changes[field] = None
    info = run_operation(
        settings, lambda database: update_key(database, ref, name=name, policy=changes)
    )
    typer.echo(describe_key(info))


@keys_app.command("usage")
def keys_usage(
    ref: KeyRef,
    days: Annotated[int, typer.Option(min=1, max=366, help="How many days back.")] = 30,
) -> None:
    """A key's requests and tokens per day, persona and model."""
    settings = load_gateway_settings()

    async def report(database: Database) -> UsageReport:
        return await read_usage_report(database, await get_key(database, ref), days=days)

    for line in describe_usage(run_operation(settings, report)):
        typer.echo(line)


@keys_app.command("list")
def keys_list() -> None:
    """Every key, oldest first: id, visible prefix, name, scopes, owner, state."""
    settings = load_gateway_settings()
    for info in asyncio.run(with_database(settings, list_keys)):
        typer.echo(describe_key(info))


@keys_app.command("revoke")
def keys_revoke(
    ref: Annotated[str, typer.Argument(help="The key's id or visible prefix.")],
) -> None:
    """Revoke a key: it is refused from the next request on."""
    settings = load_gateway_settings()
    info = run_operation(settings, lambda database: revoke_key(database, ref))
    typer.echo(describe_key(info))


@keys_app.command("rotate")
def keys_rotate(
    ref: Annotated[str, typer.Argument(help="The key's id or visible prefix.")],
) -> None:
    """Replace a key's secret (same name, scopes, owner); prints the new secret alone."""
    settings = load_gateway_settings()
    issued = run_operation(settings, lambda database: rotate_key(database, ref))
    typer.echo(issued.secret)


def run_operation(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    try:
        return asyncio.run(with_database(settings, work))
    except GatewayError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(code=1) from exc


@personas_app.command("import-legacy")
def personas_import_legacy(
    database_url: Annotated[
        str, typer.Option(help="The original prototype's PostgreSQL URL (table public.models).")
    ],
) -> None:
    """Import the original prototype's characters as personas."""
    settings = load_gateway_settings()
    report = asyncio.run(import_legacy_personas(settings, legacy_database_url=database_url))
    for line in report.lines():
        typer.echo(line)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (the gateway also does this at start)."""
    settings = load_gateway_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database(settings.resolved_database_url)
    typer.echo("database is up to date")


class ExportFormatChoice(StrEnum):
    md = "md"
    json = "json"


@sessions_app.command("purge")
def sessions_purge(
    older_than: Annotated[
        str, typer.Option(help="Delete sessions idle for longer than this: 30d, 12h, 2w, 90m.")
    ],
    dry_run: Annotated[bool, typer.Option(help="Only count what would be deleted.")] = False,
) -> None:
    """Delete old conversations (every owner's) with their messages."""
    try:
        age = parse_age(older_than)
    except ValueError as exc:
        typer.echo(f"error: --older-than: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    settings = load_gateway_settings()
    report = asyncio.run(
        with_database(
            settings, lambda database: purge_sessions(database, older_than=age, dry_run=dry_run)
        )
    )
    typer.echo(report.line())


@sessions_app.command("export")
def sessions_export(
    session_id: Annotated[str, typer.Argument(help="The session's id.")],
    export_format: Annotated[
        ExportFormatChoice, typer.Option("--format", help="Markdown or JSON.")
    ] = ExportFormatChoice.md,
    output: Annotated[
        Path | None, typer.Option(help="Write to this file instead of standard output.")
    ] = None,
) -> None:
    """One conversation as Markdown or JSON, whoever owns it."""
    settings = load_gateway_settings()
    content = run_operation(
        settings, lambda database: export_session(database, session_id, export_format.value)
    )
    if output is None:
        typer.echo(content.decode(), nl=False)
    else:
        output.write_bytes(content)
        typer.echo(f"wrote {output}", err=True)


def main() -> None:
    app(prog_name="thinkingthoughts")


@app.command()
def bench(
    scenario: Annotated[
        str,
        typer.Argument(
            help="chat, stream, openai, long-session, soak, postgres, prefix-stability or all."
        ),
    ],
    requests: Annotated[int, typer.Option(min=1, help="Timed requests per target.")] = 3000,
    concurrency: Annotated[int, typer.Option(min=1, help="Concurrent clients.")] = 32,
    compare: Annotated[
        bool, typer.Option(help="Also measure the bare passthrough and LiteLLM (if installed).")
    ] = True,
    litellm: Annotated[
        str | None, typer.Option(help="The litellm command (default: beside Python or on PATH).")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="PostgreSQL URL for the postgres scenario.")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Gateway workers (postgres).")] = 2,
    smoke: Annotated[bool, typer.Option(help="A few requests of each, to try the code.")] = False,
    json_dir: Annotated[Path, typer.Option(help="Where each scenario's JSON is written.")] = Path(
        "benchmarks/results"
    ),
) -> None:
    """Measure the gateway against the simulator called directly, a bare passthrough and
    LiteLLM, side by side in one run; print a table and write JSON per scenario."""
    # The harness is loaded by this command only: no other command pays for it.
    from thinkingthoughts.bench.report import as_json, markdown
    from thinkingthoughts.bench.scenarios import SCENARIOS, BenchOptions, smoke_options

    names = list(SCENARIOS) if scenario == "all" else [scenario]
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        typer.echo(
            f"error: no scenario '{unknown[0]}'; choose {', '.join(SCENARIOS)} or all", err=True
        )
        raise typer.Exit(code=2)
    if scenario == "all" and database_url is None:
        names.remove("postgres")
    with tempfile.TemporaryDirectory(prefix="tt-bench-") as workdir:
        options = BenchOptions(
            workdir=Path(workdir),
            requests=requests,
            concurrency=concurrency,
            compare=compare,
            litellm=litellm,
            database_url=database_url,
            workers=workers,
        )
        if smoke:
            options = smoke_options(options)
        for name in names:
            try:
                report = SCENARIOS[name](options)
            except (ValueError, RuntimeError, OSError, aiohttp.ClientError) as exc:
                typer.echo(f"error: {name}: {exc}", err=True)
                raise typer.Exit(code=1) from exc
            typer.echo(markdown(report))
            json_dir.mkdir(parents=True, exist_ok=True)
            (json_dir / f"{name}.json").write_bytes(
                orjson.dumps(as_json([report]), option=orjson.OPT_INDENT_2)
            )


if __name__ == "__main__":  # pragma: no cover
    main()
