"""The `ghostless` command: one module per group of subcommands."""

from __future__ import annotations

import click

from plugin.cli.ats import ats
from plugin.cli.demo import demo_command
from plugin.cli.processes import serve, sweep_command, sweeper, web, worker
from plugin.cli.secrets import secrets_group
from plugin.cli.setup import db, org, retention_group
from plugin.cli.users import user_group


@click.group()
@click.version_option(package_name="ghostless")
def main() -> None:
    """Ghostless: every interviewed candidate hears from you before the deadline you set."""


for command in (db, org, sweep_command, retention_group, sweeper, worker, web, serve, demo_command, ats, user_group,
                secrets_group):
    main.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    main()
