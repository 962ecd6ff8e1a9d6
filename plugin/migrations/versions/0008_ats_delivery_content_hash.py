"""ATS deliveries remember a hash of the verified body, so a replay under a new delivery id is a duplicate

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 17:05:00

Greenhouse signs the body, not the `Greenhouse-Event-ID` header we deduplicated on: a captured body
posted again with a new id was applied again. `content_hash` (sha256 of the raw body, webhooks
only; poll pages leave it NULL) is unique per connection. Rows stored before this revision keep
NULL, which a unique constraint allows any number of times on both back ends.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ats_deliveries') as batch:
        batch.add_column(sa.Column('content_hash', sa.String(length=80), nullable=True))
        batch.create_unique_constraint('uq_ats_deliveries_connection_id_content_hash',
                                       ['connection_id', 'content_hash'])


def downgrade() -> None:
    with op.batch_alter_table('ats_deliveries') as batch:
        batch.drop_constraint('uq_ats_deliveries_connection_id_content_hash', type_='unique')
        batch.drop_column('content_hash')
