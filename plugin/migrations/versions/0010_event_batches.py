"""Stored event batches: POST /api/v1/events acknowledges after a durable store, a job applies

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 20:00:00

A batch of 1,000 events took 12-28 s to apply inside the request, against gunicorn's 30 s (issue 13,
item 13), and a client waited for all of it (issue 14). The request now validates the batch, stores
it in one row and answers 202; an RQ job applies it and records each event's outcome here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import plugin.db

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'event_batches',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org_id', sa.String(length=36), nullable=False),
        sa.Column('received_at', plugin.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=200), nullable=False),
        sa.Column('state', sa.String(length=32), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', plugin.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('processed_at', plugin.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('event_count', sa.Integer(), nullable=False),
        sa.Column('event_ids', sa.JSON(), nullable=False),
        sa.Column('body', sa.LargeBinary(), nullable=True),
        sa.Column('results', sa.JSON(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_event_batches_org_id_organizations'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_event_batches')),
    )
    op.create_index(op.f('ix_event_batches_org_id'), 'event_batches', ['org_id'], unique=False)
    op.create_index('ix_event_batches_received_at', 'event_batches', ['received_at'], unique=False)
    op.create_index('ix_event_batches_pending', 'event_batches', ['next_attempt_at'], unique=False,
                    sqlite_where=sa.text("state IN ('queued', 'processing')"),
                    postgresql_where=sa.text("state IN ('queued', 'processing')"))


def downgrade() -> None:
    op.drop_index('ix_event_batches_pending', table_name='event_batches')
    op.drop_index('ix_event_batches_received_at', table_name='event_batches')
    op.drop_index(op.f('ix_event_batches_org_id'), table_name='event_batches')
    op.drop_table('event_batches')
