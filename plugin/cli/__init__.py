"""The `ghostless` command."""

from __future__ import annotations

import sys
from datetime import datetime

import click

from plugin import clock
from plugin.settings import Settings, SettingsError


def _settings() -> Settings:
    try:
        return Settings.from_env().ensure_secret_key()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


def _runtime(upgrade_embedded: bool = False):  # type: ignore[no-untyped-def]
    from plugin import runtime
    from plugin.migrate import upgrade

    rt = runtime.build(_settings())
    runtime.install(rt)
    if upgrade_embedded and rt.settings.is_sqlite:
        upgrade(rt.db)
    return rt


def _needs_shared_redis(command: str) -> None:
    if _settings().uses_embedded_redis:
        raise click.ClickException(
            f"`ghostless {command}` runs as its own process and needs a Redis shared with the others: set "
            "GHOSTLESS_REDIS_URL (for example redis://127.0.0.1:6379/0). The embedded Redis belongs to one "
            "process; for a single-process install run `ghostless serve` instead."
        )


@click.group()
@click.version_option(package_name="ghostless")
def main() -> None:
    """Ghostless: every interviewed candidate hears from you before the deadline you set."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply Alembic migrations to GHOSTLESS_DATABASE_URL (or the embedded SQLite file)."""
    from plugin.migrate import upgrade

    rt = _runtime()
    upgrade(rt.db)
    click.echo(f"Database is up to date ({rt.db.engine.url.render_as_string(hide_password=True)}).")
    rt.close()


@main.group()
def org() -> None:
    """Organisations."""


@org.command("create")
@click.argument("name")
@click.option("--timezone", "timezone_", required=True, help="IANA time zone, e.g. America/New_York")
@click.option("--country", required=True, help="Holiday country, ISO 3166 code, e.g. US")
@click.option("--subdivision", default=None, help="Holiday subdivision, e.g. NY")
@click.option("--sender-email", default=None, help="From address for candidate mail")
@click.option("--escalation-email", default=None, help="Talent-ops lead who receives escalations")
def org_create(name: str, timezone_: str, country: str, subdivision: str | None, sender_email: str | None,
               escalation_email: str | None) -> None:
    """Create an organisation; prints its id and an API key (shown once)."""
    from plugin.accounts.orgs import create_organization
    from plugin.sla.calendar import CalendarError

    rt = _runtime(upgrade_embedded=True)
    try:
        with rt.db.session() as session:
            organization, key = create_organization(
                session, name, timezone=timezone_, country=country.upper(), subdivision=subdivision,
                now=clock.now(), sender_name=name, sender_email=sender_email, escalation_email=escalation_email,
            )
            org_id = organization.id
    except CalendarError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        rt.close()
    click.echo(f"Organisation: {org_id}")
    click.echo(f"API key (shown once, store it now): {key}")


@main.command("sweep")
@click.option("--at", "at", default=None, help="Act as if it were this instant (ISO 8601 with offset)")
def sweep_command(at: str | None) -> None:
    """Run one sweep tick (for cron and tests)."""
    from plugin.processes import sweep_once

    instant = None
    if at is not None:
        try:
            instant = datetime.fromisoformat(at)
        except ValueError as exc:
            raise click.BadParameter(f"{at!r} is not an ISO 8601 instant", param_hint="--at") from exc
        if instant.tzinfo is None:
            raise click.BadParameter("give an offset, e.g. 2026-11-20T09:00:00Z", param_hint="--at")
        clock.install(clock.FrozenClock(instant))
    rt = _runtime(upgrade_embedded=True)
    try:
        report = sweep_once(rt, instant)
    finally:
        rt.close()
    click.echo(f"Sweep at {(instant or clock.now()).isoformat()}: {report.summary()}")


@main.group("retention")
def retention_group() -> None:
    """Anonymise candidates GHOSTLESS_RETENTION_DAYS after their decision reached them."""


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="Only count who would be anonymised; change nothing")
def retention_run(dry_run: bool) -> None:
    """Anonymise everyone whose retention period has ended (the sweeper also does this every tick)."""
    from plugin.sla.retention import anonymise_due

    rt = _runtime(upgrade_embedded=True)
    try:
        report = anonymise_due(rt.db, clock.now(), rt.settings.retention_days, dry_run=dry_run)
    finally:
        rt.close()
    summary = report.summary(rt.settings.retention_days)
    click.echo(summary[0].upper() + summary[1:] + ".")
    if dry_run:
        click.echo("Dry run: nothing was changed.")


@main.command()
def sweeper() -> None:
    """Sweep forever, every GHOSTLESS_SWEEP_INTERVAL seconds."""
    import threading

    from plugin.processes import sweeper_loop

    _needs_shared_redis("sweeper")
    rt = _runtime()
    try:
        sweeper_loop(rt, threading.Event())
    except KeyboardInterrupt:
        pass
    finally:
        rt.close()


@main.command()
@click.option("--burst", is_flag=True, help="Stop when the queue is empty")
def worker(burst: bool) -> None:
    """Run an RQ worker that sends notifications."""
    from plugin.processes import run_worker

    _needs_shared_redis("worker")
    rt = _runtime()
    try:
        run_worker(rt, burst=burst)
    finally:
        rt.close()


@main.command()
@click.option("--bind", default="127.0.0.1:5000", show_default=True, help="host:port")
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes")
def web(bind: str, workers: int) -> None:
    """Serve the HTTP API with gunicorn (production)."""
    from gunicorn.app.base import BaseApplication

    from plugin import create_app

    settings = _settings()
    if settings.is_sqlite:  # the embedded default has no separate migration step
        _runtime(upgrade_embedded=True).close()

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", "-")

        def load(self):  # type: ignore[no-untyped-def]
            return create_app(settings)

    _App().run()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def serve(host: str, port: int) -> None:
    """Web + worker + sweeper in one process (small installs; embedded default). Stop with Ctrl-C or SIGTERM:
    the embedded Redis stops with it."""
    from redis import RedisError

    from plugin.processes import serve as serve_all
    from plugin.runtime import EmbeddedRedisError

    rt = _runtime(upgrade_embedded=True)
    try:
        serve_all(rt, host, port)
    except (EmbeddedRedisError, RedisError, OSError) as exc:  # Redis unreachable, port taken: said at start-up
        raise click.ClickException(f"cannot serve: {exc}") from exc
    finally:
        rt.close()


@main.command()
@click.option("--no-serve", is_flag=True, help="Stop after the summary")
@click.option("--round", "round_file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Replay this file instead of examples/demo/round.json")
@click.option("--port", default=5000, show_default=True)
@click.option("--sendgrid-standin", is_flag=True,
              help="Send through the real SendGrid client to a local SendGrid stand-in (checks every "
                   "request against SendGrid's contract) instead of writing .eml files")
def demo(no_serve: bool, round_file: str | None, port: int, sendgrid_standin: bool) -> None:
    """Play a realistic hiring round through the real API, queue and worker, then serve it."""
    from plugin.cli.demo import run_demo

    sys.exit(run_demo(_settings(), serve=not no_serve, round_file=round_file, port=port,
                      sendgrid_standin=sendgrid_standin))


if __name__ == "__main__":  # pragma: no cover
    main()


from plugin.cli.ats import ats  # noqa: E402 - the `ats` group lives in its own module
from plugin.cli.users import user_group  # noqa: E402

main.add_command(ats)
main.add_command(user_group)
