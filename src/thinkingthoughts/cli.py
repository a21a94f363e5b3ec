"""The `thinkingthoughts` command line."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError

from thinkingthoughts.errors import GatewayError
from thinkingthoughts.launcher import run_stack, serve_gateway
from thinkingthoughts.operations import (
    create_api_key,
    describe_key,
    import_legacy_personas,
    with_database,
)
from thinkingthoughts.security.api_keys import Scope
from thinkingthoughts.security.key_management import list_keys, revoke_key, rotate_key
from thinkingthoughts.settings import Settings, describe_settings_error
from thinkingthoughts.simulator.config import SimulatorConfig
from thinkingthoughts.simulator.server import run_simulator
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.migrate import upgrade_database

T = TypeVar("T")

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
KeyRef = Annotated[str, typer.Argument(help="The key's id or visible prefix.")]


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
) -> None:
    """Create a key and print its secret alone on stdout (it is never shown again)."""
    settings = load_settings()
    secret = asyncio.run(
        create_api_key(
            settings, name=name, scope=scope, owner=owner, expires_in_days=expires_in_days
        )
    )
    typer.echo(secret)


@keys_app.command("list")
def keys_list() -> None:
    """Every key, oldest first: id, visible prefix, name, scopes, owner, state."""
    settings = load_settings()
    for info in asyncio.run(with_database(settings, list_keys)):
        typer.echo(describe_key(info))


@keys_app.command("revoke")
def keys_revoke(
    ref: Annotated[str, typer.Argument(help="The key's id or visible prefix.")],
) -> None:
    """Revoke a key: it is refused from the next request on."""
    settings = load_settings()
    info = run_key_operation(settings, lambda database: revoke_key(database, ref))
    typer.echo(describe_key(info))


@keys_app.command("rotate")
def keys_rotate(
    ref: Annotated[str, typer.Argument(help="The key's id or visible prefix.")],
) -> None:
    """Replace a key's secret (same name, scopes, owner); prints the new secret alone."""
    settings = load_settings()
    issued = run_key_operation(settings, lambda database: rotate_key(database, ref))
    typer.echo(issued.secret)


def run_key_operation(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
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
    settings = load_settings()
    report = asyncio.run(import_legacy_personas(settings, legacy_database_url=database_url))
    for line in report.lines():
        typer.echo(line)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (the gateway also does this at start)."""
    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database(settings.resolved_database_url)
    typer.echo("database is up to date")


def main() -> None:
    app(prog_name="thinkingthoughts")


if __name__ == "__main__":  # pragma: no cover
    main()
