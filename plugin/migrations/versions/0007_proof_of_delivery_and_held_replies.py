"""proof of delivery and replies: what a delivery event rests on, refused events, held replies

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 17:30:00

The Event Webhook's verification key records who set it and when; each delivery event keeps the
fingerprint of the key that verified it and that key's provenance, and why it was refused if it
was (an impossible or stale time). A candidate's reply keeps SendGrid's SPF/DKIM verdicts and why
it was held. Only new nullable columns: no table rewrite on PostgreSQL, a batch copy on SQLite.
The new reply state 'held' needs no schema change (states are VARCHAR without a CHECK constraint).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import plugin.db

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('organizations') as batch:
        batch.add_column(sa.Column('sendgrid_event_key_set_at', plugin.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('sendgrid_event_key_set_by', sa.String(length=200), nullable=True))
    with op.batch_alter_table('mail_events') as batch:
        batch.add_column(sa.Column('key_fingerprint', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('key_set_at', plugin.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('key_set_by', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('refused_reason', sa.Text(), nullable=True))
    with op.batch_alter_table('candidate_replies') as batch:
        batch.add_column(sa.Column('authentication', sa.String(length=500), nullable=True))
        batch.add_column(sa.Column('held_reason', sa.String(length=500), nullable=True))


def downgrade() -> None:
    # The code before this revision does not know 'held': such replies go back to review as unknown senders.
    op.execute("UPDATE candidate_replies SET state = 'unknown_sender' WHERE state = 'held'")
    with op.batch_alter_table('candidate_replies') as batch:
        batch.drop_column('held_reason')
        batch.drop_column('authentication')
    with op.batch_alter_table('mail_events') as batch:
        batch.drop_column('refused_reason')
        batch.drop_column('key_set_by')
        batch.drop_column('key_set_at')
        batch.drop_column('key_fingerprint')
    with op.batch_alter_table('organizations') as batch:
        batch.drop_column('sendgrid_event_key_set_by')
        batch.drop_column('sendgrid_event_key_set_at')
