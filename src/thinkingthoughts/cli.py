"""The `thinkingthoughts` command line."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from pydantic import ValidationError

from thinkingthoughts.security.api_keys import Scope
from thinkingthoughts.settings import Settings, describe_settings_error

app = typer.Typer(
    help="ThinkingThoughts: persona chat gateway for OpenAI-compatible inference servers.",
    no_args_is_help=True,
    add_completion=False,
)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
personas_app = typer.Typer(help="Personas.", no_args_is_help=True)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(personas_app, name="personas")
app.add_typer(db_app, name="db")

HostOption = Annotated[str | None, typer.Option(help="Interface to listen on.")]
PortOption = Annotated[int | None, typer.Option(help="Port to listen on.")]


def load_settings() -> Settings:
    """Read the settings, or stop with one readable line naming the wrong variable."""
    try:
        return Settings()
    except ValidationError as exc:
        typer.echo(f"error: {describe_settings_error(exc)}", err=True)
        raise typer.Exit(code=2) from exc


@app.command()
def serve(host: HostOption = None, port: PortOption = None) -> None:
    """Run the gateway against LLM_BASE_URL."""
    from thinkingthoughts.launcher import serve_gateway

    settings = load_settings()
    if settings.llm_base_url is None:
        typer.echo(
            "error: LLM_BASE_URL is not set; point it at vLLM or an OpenAI-compatible server, "
            "or use `thinkingthoughts up` to run with the bundled simulator",
            err=True,
        )
        raise typer.Exit(code=2)
    serve_gateway(settings, host=host or settings.host, port=port or settings.port)


@app.command()
def up(host: HostOption = None, port: PortOption = None) -> None:
    """Run the gateway, with the bundled simulator when no LLM_BASE_URL is set."""
    from thinkingthoughts.launcher import run_stack

    settings = load_settings()
    code = run_stack(settings, host=host or settings.host, port=port or settings.port)
    raise typer.Exit(code=code)


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
    from thinkingthoughts.simulator.config import SimulatorConfig
    from thinkingthoughts.simulator.server import run_simulator

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
) -> None:
    """Create a key and print its secret alone on stdout (it is never shown again)."""
    from thinkingthoughts.operations import create_api_key

    settings = load_settings()
    secret = asyncio.run(create_api_key(settings, name=name, scope=scope))
    typer.echo(secret)


@personas_app.command("import-legacy")
def personas_import_legacy(
    database_url: Annotated[
        str, typer.Option(help="The original prototype's PostgreSQL URL (table public.models).")
    ],
) -> None:
    """Import the original prototype's characters as personas."""
    from thinkingthoughts.operations import import_legacy_personas

    settings = load_settings()
    report = asyncio.run(import_legacy_personas(settings, legacy_database_url=database_url))
    for line in report.lines():
        typer.echo(line)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (the gateway also does this at start)."""
    from thinkingthoughts.storage.migrate import upgrade_database

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database(settings.resolved_database_url)
    typer.echo("database is up to date")


def main() -> None:
    app(prog_name="thinkingthoughts")


if __name__ == "__main__":  # pragma: no cover
    main()
