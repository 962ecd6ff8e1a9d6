"""messages that land: delivery events, replies, template overrides, candidate holidays

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 04:17:31.487885
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import plugin.db

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('template_overrides',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.Enum('next_steps', 'status_update', 'rejection', 'job_closed', 'reminder_recruiter', 'reminder_hiring_manager', 'escalation', 'delivery_failed', 'reply_ack', 'reply_forward', 'candidate_withdrew', name='notificationkind', native_enum=False, length=32), nullable=False),
    sa.Column('locale', sa.String(length=35), nullable=False),
    sa.Column('subject', sa.Text(), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('sender_name', sa.String(length=200), nullable=True),
    sa.Column('reply_to', sa.String(length=320), nullable=True),
    sa.Column('signature', sa.Text(), nullable=True),
    sa.Column('updated_at', plugin.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_template_overrides_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_template_overrides')),
    sa.UniqueConstraint('org_id', 'kind', 'locale', name='uq_template_overrides')
    )
    op.create_table('candidate_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.String(length=36), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=True),
    sa.Column('application_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.Enum('matched', 'unknown_sender', 'erased', name='replystate', native_enum=False, length=32), nullable=False),
    sa.Column('received_at', plugin.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('from_email', sa.String(length=320), nullable=True),
    sa.Column('from_name', sa.String(length=200), nullable=True),
    sa.Column('subject', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('attachments', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=300), nullable=True),
    sa.Column('forward_notification_id', sa.Integer(), nullable=True),
    sa.Column('ack_notification_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['ack_notification_id'], ['notifications.id'], name=op.f('fk_candidate_replies_ack_notification_id_notifications')),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_candidate_replies_application_id_applications')),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], name=op.f('fk_candidate_replies_candidate_id_candidates')),
    sa.ForeignKeyConstraint(['forward_notification_id'], ['notifications.id'], name=op.f('fk_candidate_replies_forward_notification_id_notifications')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_candidate_replies_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_candidate_replies'))
    )
    with op.batch_alter_table('candidate_replies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_candidate_replies_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_candidate_replies_candidate_id'), ['candidate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_candidate_replies_org_id'), ['org_id'], unique=False)
        batch_op.create_index('uq_candidate_replies_message_id', ['org_id', 'message_id'], unique=True,
                              sqlite_where=sa.text('message_id IS NOT NULL'),
                              postgresql_where=sa.text('message_id IS NOT NULL'))
        batch_op.create_index('ix_candidate_replies_unknown_sender', ['received_at'], unique=False,
                              sqlite_where=sa.text("state = 'unknown_sender'"),
                              postgresql_where=sa.text("state = 'unknown_sender'"))

    op.create_table('mail_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.String(length=36), nullable=False),
    sa.Column('notification_id', sa.Integer(), nullable=True),
    sa.Column('dedupe_key', sa.String(length=300), nullable=False),
    sa.Column('sg_event_id', sa.String(length=100), nullable=True),
    sa.Column('sg_message_id', sa.String(length=200), nullable=True),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('occurred_at', plugin.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_at', plugin.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'], name=op.f('fk_mail_events_notification_id_notifications')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_mail_events_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_events')),
    sa.UniqueConstraint('org_id', 'dedupe_key', name='uq_mail_events_dedupe')
    )
    with op.batch_alter_table('mail_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_events_notification_id'), ['notification_id'], unique=False)

    with op.batch_alter_table('candidates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('holiday_country', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('holiday_subdivision', sa.String(length=16), nullable=True))
        batch_op.create_index('ix_candidates_living', ['id'], unique=False,
                              sqlite_where=sa.text('erased_at IS NULL'), postgresql_where=sa.text('erased_at IS NULL'))
    op.create_index('ix_candidates_email', 'candidates', ['org_id', sa.text('lower(email)')], unique=False)

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delivery_status', sa.Enum('processed', 'deferred', 'delivered', 'bounce', 'dropped', 'spamreport', name='deliverystatus', native_enum=False, length=32), nullable=True))
        batch_op.add_column(sa.Column('delivery_status_at', plugin.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('delivery_detail', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('locale_fallback_from', sa.String(length=35), nullable=True))

    with op.batch_alter_table('organizations', schema=None) as batch_op:
        # Existing organisations get English internal mail, as before.
        batch_op.add_column(sa.Column('locale', sa.String(length=35), nullable=False, server_default='en'))
        batch_op.add_column(sa.Column('sendgrid_event_public_key', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('sendgrid_inbound_secret_hash', sa.String(length=64), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('sendgrid_inbound_secret_hash')
        batch_op.drop_column('sendgrid_event_public_key')
        batch_op.drop_column('locale')

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('locale_fallback_from')
        batch_op.drop_column('delivery_detail')
        batch_op.drop_column('delivery_status_at')
        batch_op.drop_column('delivery_status')

    op.drop_index('ix_candidates_email', table_name='candidates')
    with op.batch_alter_table('candidates', schema=None) as batch_op:
        batch_op.drop_index('ix_candidates_living')
        batch_op.drop_column('holiday_subdivision')
        batch_op.drop_column('holiday_country')

    with op.batch_alter_table('mail_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_events_notification_id'))

    op.drop_table('mail_events')
    with op.batch_alter_table('candidate_replies', schema=None) as batch_op:
        batch_op.drop_index('ix_candidate_replies_unknown_sender')
        batch_op.drop_index('uq_candidate_replies_message_id')
        batch_op.drop_index(batch_op.f('ix_candidate_replies_org_id'))
        batch_op.drop_index(batch_op.f('ix_candidate_replies_candidate_id'))
        batch_op.drop_index(batch_op.f('ix_candidate_replies_application_id'))

    op.drop_table('candidate_replies')
    op.drop_table('template_overrides')
