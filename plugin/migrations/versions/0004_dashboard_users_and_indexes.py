"""dashboard: users who sign in (invitations, departments), ESA scope of jobs, dashboard indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 05:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import plugin.db

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('departments', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column('invite_token_hash', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('invited_at', plugin.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('invite_expires_at', plugin.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('invited_by', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('last_sign_in_at', plugin.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('disabled_at', plugin.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('session_epoch', sa.Integer(), nullable=False, server_default=sa.text('0')))
    op.create_index('ix_users_invite_token_hash', 'users', ['invite_token_hash'], unique=True)
    op.create_index('uq_users_email_lower', 'users', [sa.text('lower(email)')], unique=True)
    with op.batch_alter_table('jobs') as batch:
        batch.add_column(sa.Column('publicly_advertised', sa.Boolean(), nullable=True))
    op.create_index('ix_jobs_org_department', 'jobs', ['org_id', 'department'])
    with op.batch_alter_table('obligations') as batch:
        batch.add_column(sa.Column('promised_on', sa.Date(), nullable=True))
    op.create_index('ix_obligations_org_due', 'obligations', ['org_id', 'due_at'])
    op.create_index('ix_obligations_org_discharged', 'obligations', ['org_id', 'discharged_at'])
    op.create_index('ix_obligations_open_due', 'obligations', ['org_id', 'due_at'],
                    sqlite_where=sa.text("state = 'open'"), postgresql_where=sa.text("state = 'open'"))
    op.create_index('ix_notifications_org_sent', 'notifications', ['org_id', 'sent_at'])
    told = sa.text("state = 'sent' AND kind IN ('status_update', 'rejection', 'job_closed')")
    op.create_index('ix_notifications_told', 'notifications', ['application_id', 'sent_at', 'kind', 'delivery_status'],
                    sqlite_where=told, postgresql_where=told)
    op.create_index('ix_inbound_events_application', 'inbound_events', ['org_id', 'application_external_id'])
    op.create_index('ix_audit_log_org_at', 'audit_log', ['org_id', 'at'])


def downgrade() -> None:
    op.drop_index('ix_audit_log_org_at', table_name='audit_log')
    op.drop_index('ix_inbound_events_application', table_name='inbound_events')
    op.drop_index('ix_notifications_told', table_name='notifications')
    op.drop_index('ix_notifications_org_sent', table_name='notifications')
    op.drop_index('ix_obligations_open_due', table_name='obligations')
    op.drop_index('ix_obligations_org_discharged', table_name='obligations')
    op.drop_index('ix_obligations_org_due', table_name='obligations')
    with op.batch_alter_table('obligations') as batch:
        batch.drop_column('promised_on')
    op.drop_index('ix_jobs_org_department', table_name='jobs')
    with op.batch_alter_table('jobs') as batch:
        batch.drop_column('publicly_advertised')
    op.drop_index('uq_users_email_lower', table_name='users')
    op.drop_index('ix_users_invite_token_hash', table_name='users')
    with op.batch_alter_table('users') as batch:
        for column in ('session_epoch', 'disabled_at', 'last_sign_in_at', 'invited_by', 'invite_expires_at', 'invited_at',
                       'invite_token_hash', 'departments'):
            batch.drop_column(column)
