"""users: an address is unique within an organisation, not across the installation

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 17:00:00

Installation-wide uniqueness told one organisation's admin that an address had an account at another
and let them squat it, so the other could never invite it. Relaxing a unique index keeps every row:
the new (org_id, lower(email)) index holds for any data the old lower(email) one allowed. Index
changes need no table copy on SQLite (CREATE/DROP INDEX work in place), so they run outside
`batch_alter_table`; a batch copy would also lose expression indexes, which SQLite reflection skips.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('uq_users_org_email_lower', 'users', ['org_id', sa.text('lower(email)')], unique=True)
    op.create_index('ix_users_email_lower', 'users', [sa.text('lower(email)')])
    op.drop_index('uq_users_email_lower', table_name='users')


def downgrade() -> None:
    shared = op.get_bind().execute(sa.text(
        "SELECT lower(email) FROM users GROUP BY lower(email) HAVING count(*) > 1 ORDER BY 1")).scalars().all()
    if shared:
        raise RuntimeError(
            f"Cannot go back to one account per address in the whole installation: {len(shared)} address(es) have "
            f"accounts in several organisations ({', '.join(shared[:5])}{', ...' if len(shared) > 5 else ''}). "
            "Disable and remove all but one account of each first.")
    op.create_index('uq_users_email_lower', 'users', [sa.text('lower(email)')], unique=True)
    op.drop_index('ix_users_email_lower', table_name='users')
    op.drop_index('uq_users_org_email_lower', table_name='users')
