"""What every `ghostless` command shares: settings from the environment and a runtime built from them."""

from __future__ import annotations

import click

from plugin import runtime
from plugin.migrate import upgrade
from plugin.settings import Settings, SettingsError


def settings() -> Settings:
    try:
        return Settings.from_env().ensure_secret_key()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


def build_runtime(upgrade_embedded: bool = False) -> runtime.Runtime:
    """The process's services, installed; the embedded SQLite file is migrated on first use."""
    rt = runtime.build(settings())
    runtime.install(rt)
    if upgrade_embedded and rt.settings.is_sqlite:
        upgrade(rt.db)
    return rt


def needs_shared_redis(command: str) -> None:
    if settings().uses_embedded_redis:
        raise click.ClickException(
            f"`ghostless {command}` runs as its own process and needs a Redis shared with the others: set "
            "GHOSTLESS_REDIS_URL (for example redis://127.0.0.1:6379/0). The embedded Redis belongs to one "
            "process; for a single-process install run `ghostless serve` instead."
        )
