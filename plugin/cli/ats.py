"""`ghostless ats ...`: look at, replay and retry ATS deliveries; poll now; re-encrypt secrets."""

from __future__ import annotations

import json
from pathlib import Path

import click
from sqlalchemy import select

from plugin import clock
from plugin.ats import deliveries, polling
from plugin.ats.secrets import SecretBox
from plugin.ats.signing import body_hash
from plugin.cli.common import build_runtime
from plugin.cli.secrets import rotate_stored_secrets
from plugin.models import AtsConnection, AtsDelivery, DeliveryKind, DeliveryState


@click.group()
def ats() -> None:
    """ATS connections: deliveries, replay, polling."""


@ats.command("deliveries")
@click.option("--connection", "connection_id", default=None, help="Only this connection")
@click.option("--state", default=None, type=click.Choice(["received", "processing", "processed", "ignored", "failed"]))
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
def deliveries_command(connection_id: str | None, state: str | None, limit: int) -> None:
    """List recent deliveries, newest first."""
    rt = build_runtime(upgrade_embedded=True)
    try:
        with rt.db.session() as session:
            query = select(AtsDelivery).order_by(AtsDelivery.received_at.desc(), AtsDelivery.id.desc()).limit(limit)
            if connection_id:
                query = query.where(AtsDelivery.connection_id == connection_id)
            if state:
                query = query.where(AtsDelivery.state == DeliveryState(state))
            rows = list(session.scalars(query))
            if not rows:
                click.echo("No deliveries.")
            for d in rows:
                events = len(d.events or [])
                click.echo(f"{d.id:>7}  {d.received_at:%Y-%m-%d %H:%M:%S}  {d.provider:<10} {d.kind.value:<7} "
                           f"{(d.vendor_event or '-'):<28} {d.state.value:<10} {events} event(s)"
                           + (f"  error: {d.error}" if d.error else ""))
    finally:
        rt.close()


@ats.command("replay")
@click.argument("target")
@click.option("--connection", "connection_id", default=None,
              help="For a FILE: the connection whose adapter reads it")
@click.option("--header", "headers", multiple=True, metavar="NAME:VALUE",
              help="For a FILE: a header the adapter reads (e.g. Greenhouse-Event-ID:123); repeatable")
def replay_command(target: str, connection_id: str | None, headers: tuple[str, ...]) -> None:
    """Process a stored delivery again (TARGET = delivery id), or a webhook body saved in a file.

    Processing is idempotent: events already applied are reported as duplicates and change nothing.
    A file is trusted (you have shell access), so its signature is not checked; it is stored as a
    delivery of kind "replay" so the record shows what was replayed and when.
    """
    rt = build_runtime(upgrade_embedded=True)
    box, now = SecretBox(rt.settings), clock.now()
    try:
        with rt.db.session() as session:
            if target.isdigit() and not Path(target).exists():
                delivery = session.get(AtsDelivery, int(target))
                if delivery is None:
                    raise click.ClickException(f"No delivery {target}. `ghostless ats deliveries` lists them.")
                if not deliveries.retry(session, delivery, now):
                    raise click.ClickException(f"Delivery {target} is {delivery.state.value} right now; try again "
                                               "when its job has finished.")
                delivery_id = delivery.id
            else:
                path = Path(target)
                if not path.is_file():
                    raise click.ClickException(f"{target} is neither a delivery id nor a file.")
                if not connection_id:
                    raise click.ClickException("Replaying a file needs --connection CONNECTION_ID.")
                connection = session.get(AtsConnection, connection_id)
                if connection is None:
                    raise click.ClickException(f"No connection {connection_id}.")
                body = path.read_bytes()
                try:
                    json.loads(body)
                except ValueError as exc:
                    raise click.ClickException(f"{target} is not valid JSON: {exc}") from exc
                parsed = dict(_header(h) for h in headers)
                stored = deliveries.store(session, connection, kind=DeliveryKind.REPLAY,
                                          key=f"replay:{now.isoformat()}:{body_hash(body)}", body=body,
                                          headers=parsed, vendor_event=f"replay of {path.name}", now=now)
                delivery_id = stored.delivery_id
        deliveries.process(rt.db, box, delivery_id, now=now)
        with rt.db.session() as session:
            delivery = session.get(AtsDelivery, delivery_id)
            assert delivery is not None
            click.echo(f"Delivery {delivery_id}: {delivery.state.value}"
                       + (f" (will retry at {delivery.next_attempt_at:%Y-%m-%d %H:%M} UTC)"
                          if delivery.state.value == "received" else ""))
            for event in delivery.events or []:
                click.echo(f"  {event['status']:<10} {event['type']:<26} {event['id']}"
                           + (f"  ({event['detail']})" if event.get("detail") else ""))
            if delivery.error:
                click.echo(f"  error: {delivery.error}")
            failed = delivery.state.value == "failed"
    finally:
        rt.close()
    if failed:
        raise SystemExit(1)


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise click.BadParameter(f"{text!r}: use NAME:VALUE", param_hint="--header")
    return name.strip().lower(), value.strip()


@ats.command("poll")
@click.argument("connection_id")
def poll_command(connection_id: str) -> None:
    """Run the reconciliation poll of one connection now, in this process."""

    rt = build_runtime(upgrade_embedded=True)
    try:
        report = polling.poll(rt.db, SecretBox(rt.settings), connection_id, now=clock.now())
    finally:
        rt.close()
    click.echo(f"Poll of {connection_id}: {report.summary()}")
    if report.error:
        raise SystemExit(1)


@ats.command("rekey")
def rekey_command() -> None:
    """Re-encrypt every stored ATS secret with the current key: the older name of `ghostless secrets rotate`."""
    rotate_stored_secrets()
