"""`ghostless db upgrade`, `ghostless org create` and `ghostless retention run`: setting an install up and keeping it tidy."""

from __future__ import annotations

import click

from plugin import clock
from plugin.accounts.orgs import create_organization
from plugin.cli.common import build_runtime
from plugin.migrate import upgrade
from plugin.sla.calendar import CalendarError
from plugin.sla.retention import anonymize_due


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply Alembic migrations to GHOSTLESS_DATABASE_URL (or the embedded SQLite file)."""
    rt = build_runtime()
    upgrade(rt.db)
    click.echo(f"Database is up to date ({rt.db.engine.url.render_as_string(hide_password=True)}).")
    rt.close()


@click.group()
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
    rt = build_runtime(upgrade_embedded=True)
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


@click.group("retention")
def retention_group() -> None:
    """Anonymise candidates GHOSTLESS_RETENTION_DAYS after their decision reached them."""


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="Only count who would be anonymised; change nothing")
def retention_run(dry_run: bool) -> None:
    """Anonymise everyone whose retention period has ended (the sweeper also does this every tick)."""
    rt = build_runtime(upgrade_embedded=True)
    try:
        report = anonymize_due(rt.db, clock.now(), rt.settings.retention_days, dry_run=dry_run)
    finally:
        rt.close()
    summary = report.summary(rt.settings.retention_days)
    click.echo(summary[0].upper() + summary[1:] + ".")
    if dry_run:
        click.echo("Dry run: nothing was changed.")
