"""Covering indexes for the compliance reports at 50,000 applications (issue 14: every dashboard page < 500 ms)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 21:00:00

The Ontario ESA report and the proof-of-notice page read every sent notice of the organisation; with
notifications' message bodies, the table is 205 MB at 50,000 applications (158,000 messages), more
than PostgreSQL's default shared buffers, and each page read it whole. These partial indexes hold
only the columns those queries use, for the rows they use, so PostgreSQL answers them from the index
(index-only scans, `bench/dashboard_pages.py --plans`):

- ix_notifications_org_told replaces ix_notifications_told (0004), which lacked org_id: every query
  filters by organisation, so that one could not be read alone.
- ix_obligations_org_contacts: the contacts and decisions the ATS recorded without a message of ours.
- ix_notifications_org_proof: the proof-of-notice page's count and its scope join.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

TOLD = sa.text("state = 'sent' AND kind IN ('status_update', 'rejection', 'job_closed')")
CONTACTS = sa.text("state = 'discharged' AND discharged_by IN ('contact', 'ats_rejection', 'job_closed', 'hired')")
PROOF = sa.text("state = 'sent' AND kind IN ('next_steps', 'status_update', 'rejection', 'job_closed', 'reply_ack')")


def upgrade() -> None:
    # plugin/reports/compliance.py OntarioReport._sources: the notices that told a candidate, per application.
    op.create_index('ix_notifications_org_told', 'notifications',
                    ['org_id', 'application_id', 'sent_at', 'kind', 'delivery_status'],
                    sqlite_where=TOLD, postgresql_where=TOLD)
    op.drop_index('ix_notifications_told', table_name='notifications')
    # plugin/reports/compliance.py OntarioReport._sources: contacts recorded by the ATS (RECORDED_CONTACTS).
    op.create_index('ix_obligations_org_contacts', 'obligations',
                    ['org_id', 'application_id', 'discharged_at', 'discharged_by'],
                    sqlite_where=CONTACTS, postgresql_where=CONTACTS)
    # plugin/reports/proof_export.py ProofExport.count: candidate-facing messages sent (CANDIDATE_KINDS).
    op.create_index('ix_notifications_org_proof', 'notifications', ['org_id', 'sent_at', 'application_id'],
                    sqlite_where=PROOF, postgresql_where=PROOF)


def downgrade() -> None:
    op.drop_index('ix_notifications_org_proof', table_name='notifications')
    op.drop_index('ix_obligations_org_contacts', table_name='obligations')
    op.create_index('ix_notifications_told', 'notifications', ['application_id', 'sent_at', 'kind', 'delivery_status'],
                    sqlite_where=TOLD, postgresql_where=TOLD)
    op.drop_index('ix_notifications_org_told', table_name='notifications')
