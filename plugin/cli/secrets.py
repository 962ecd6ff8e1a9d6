"""`ghostless secrets ...`: key rotation. `rotate` re-encrypts every stored ATS secret with the current key."""

from __future__ import annotations

import click

from plugin.ats.secrets import SecretBox, reencrypt_all
from plugin.cli.common import build_runtime
from plugin.models import AtsConnection


@click.group("secrets")
def secrets_group() -> None:
    """Secret keys: rotate them (README, "Keys and rotation")."""


def rotate_stored_secrets() -> None:
    """Shared by `secrets rotate` and its older name `ats rekey`."""
    rt = build_runtime(upgrade_embedded=True)

    def progress(row: AtsConnection, reencrypted: int, current: int) -> None:
        click.echo(f"  {row.id} ({row.provider}): {reencrypted} re-encrypted, {current} already current")

    try:
        with rt.db.session() as session:
            rotation = reencrypt_all(session, SecretBox(rt.settings), progress)
            if rotation.unreadable:  # raising rolls the session back, though nothing was changed
                raise click.ClickException(
                    f"{len(rotation.unreadable)} stored ATS secret(s) cannot be decrypted with any configured key: "
                    + ", ".join(rotation.unreadable)
                    + ". Nothing was changed. List the secret key they were made with in "
                    "GHOSTLESS_PREVIOUS_SECRET_KEYS (or their Fernet key in GHOSTLESS_ENCRYPTION_KEYS) and run again."
                )
    finally:
        rt.close()
    click.echo(
        f"Re-encrypted {rotation.reencrypted} secret(s) in {rotation.connections} connection(s); "
        f"{rotation.already_current} already used the current key."
    )
    click.echo("Old keys are no longer needed for ATS secrets; keep them in GHOSTLESS_PREVIOUS_SECRET_KEYS until "
               "status links signed with them have expired (GHOSTLESS_RETENTION_DAYS).")


@secrets_group.command("rotate")
def rotate_command() -> None:
    """Re-encrypt every stored ATS secret and credential with the current key (safe to run again)."""
    rotate_stored_secrets()
