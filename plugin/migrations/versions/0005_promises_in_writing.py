"""promises in writing: the date a candidate was given, how a deadline was set, autopilot runs, human action,
messages of unknown fate

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import plugin.db

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('obligations') as batch:
        batch.add_column(sa.Column('written_due_at', plugin.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('due_basis', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('autopilot_run', sa.Integer(), nullable=False, server_default=sa.text('0')))
    with op.batch_alter_table('applications') as batch:
        batch.add_column(sa.Column('last_human_action_at', plugin.db.UTCDateTime(timezone=True), nullable=True))
    # Sweep: messages of unknown fate (a worker died mid-send) join the in-flight rows it recovers.
    op.drop_index('ix_notifications_in_flight', table_name='notifications')
    in_flight = sa.text("state IN ('queued', 'sending', 'unknown')")
    op.create_index('ix_notifications_in_flight', 'notifications', ['queued_at'],
                    sqlite_where=in_flight, postgresql_where=in_flight)
    # Dashboard: applications autopilot has had to answer twice or more in a row (neglected).
    op.create_index('ix_obligations_neglected', 'obligations', ['org_id', 'autopilot_run'],
                    sqlite_where=sa.text("state = 'open' AND autopilot_run >= 2"),
                    postgresql_where=sa.text("state = 'open' AND autopilot_run >= 2"))


def downgrade() -> None:
    op.drop_index('ix_obligations_neglected', table_name='obligations')
    op.drop_index('ix_notifications_in_flight', table_name='notifications')
    in_flight = sa.text("state IN ('queued', 'sending')")
    op.create_index('ix_notifications_in_flight', 'notifications', ['queued_at'],
                    sqlite_where=in_flight, postgresql_where=in_flight)
    with op.batch_alter_table('applications') as batch:
        batch.drop_column('last_human_action_at')
    with op.batch_alter_table('obligations') as batch:
        batch.drop_column('autopilot_run')
        batch.drop_column('due_basis')
        batch.drop_column('written_due_at')
