"""Jobs remember how far their closing notices have got, so a large closing fans out in the sweep

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 17:45:00

A `job.closed` for a job with 10,000 interviewed candidates did all its work inside the request and
answered 500 after 30 s, never stored (issue 13, item 13). The request now adds the first few
hundred candidates to closing notices and leaves a cursor (`closing_fanout_after`, the last
application id done) and the hold it promised (`closing_hold_until`); the sweep continues from the
cursor. NULL: nothing left to do, which is what every existing job gets.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import plugin.db

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs') as batch:
        batch.add_column(sa.Column('closing_fanout_after', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('closing_hold_until', plugin.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('jobs') as batch:
        batch.drop_column('closing_hold_until')
        batch.drop_column('closing_fanout_after')
