"""`ghostless user ...`: dashboard users from the command line (the first admin comes from here)."""

from __future__ import annotations

import sys

import click
from sqlalchemy import func, or_, select

from plugin import clock
from plugin.accounts.users import UserError, create_user, invite_user, parse_role
from plugin.cli.common import build_runtime
from plugin.models import Organization


@click.group("user")
def user_group() -> None:
    """Dashboard users."""


@user_group.command("create")
@click.argument("email")
@click.option("--org", "org_ref", required=True, help="Organisation id or exact name")
@click.option("--role", type=click.Choice(["admin", "manager", "viewer"]), required=True,
              help="admin: everything; manager: own departments and requisitions; viewer: read-only")
@click.option("--name", default=None, help="Display name")
@click.option("--department", "departments", multiple=True,
              help="A department a manager sees (repeat for several)")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (scripts)")
@click.option("--invite", is_flag=True, help="Print an invitation link instead of setting a password")
def user_create(email: str, org_ref: str, role: str, name: str | None, departments: tuple[str, ...],
                password_stdin: bool, invite: bool) -> None:
    """Create a dashboard user in an organisation."""
    if invite and password_stdin:
        raise click.UsageError("Use --invite (the user chooses a password) or --password-stdin, not both.")
    if departments and role != "manager":
        raise click.UsageError("--department only applies to managers (admins and viewers see the whole "
                               "organisation).")
    password = None
    if not invite:
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = click.prompt("Password (at least 12 characters)", hide_input=True,
                                    confirmation_prompt=True)
    rt = build_runtime(upgrade_embedded=True)
    try:
        with rt.db.session() as session:
            matches = session.scalars(select(Organization).where(
                or_(Organization.id == org_ref, func.lower(Organization.name) == org_ref.lower()))).all()
            if not matches:
                raise click.ClickException(f"No organisation with the id or name {org_ref!r}.")
            if len(matches) > 1:
                raise click.ClickException(f"Several organisations are named {org_ref!r}; use the id instead.")
            org = matches[0]
            try:
                if invite:
                    user, token = invite_user(session, org, email, parse_role(role), now=clock.now(),
                                              invited_by="cli", departments=departments)
                    if name:
                        user.name = name
                else:
                    assert password is not None
                    user = create_user(session, org, email, parse_role(role), password=password, now=clock.now(),
                                       name=name, departments=departments)
                    token = None
            except UserError as exc:
                raise click.ClickException(str(exc)) from exc
            session.commit()
            click.echo(f"User {user.email} ({user.role.value}) in {org.name}.")
            if token is not None:
                link = f"{rt.settings.base_url.rstrip('/')}/dashboard/invitations/{token}"
                click.echo(f"Invitation link (valid 7 days, shown once): {link}")
            else:
                click.echo(f"Sign in at {rt.settings.base_url.rstrip('/')}/dashboard/")
    finally:
        rt.close()
