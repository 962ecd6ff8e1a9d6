"""The outbox page: the .eml files the embedded default wrote, for this organisation and scope only.

The round (tests/dashboard/test_dashboard_timeline.py `play_round`) sends real mail through the real worker
into the test's outbox folder: next steps, both reminders and the autopilot status update, for two
Engineering candidates and one Sales candidate.
"""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from typing import Any

import pytest
from conftest import Org
from dashboard_support import add_user, sign_in
from helpers import interview_done
from sqlalchemy import select
from test_dashboard_timeline import ADMIN, HOSTILE, SALES_MANAGER, Round, play_round

from plugin import clock as clock_module
from plugin.dashboard.timeline import MESSAGE_CSP
from plugin.models import Notification, NotificationKind


@pytest.fixture
def played(rt: Any, org: Org, tick: Any, clock: Any) -> Round:
    played = play_round(rt, org, tick, clock)
    add_user(rt, org.id, ADMIN, "admin")
    add_user(rt, org.id, SALES_MANAGER, "manager", departments=["Sales"])
    return played


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def listed(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'href="/dashboard/outbox/(\d+)"', page)]


def outbox_ids(rt: Any, org_id: str) -> list[int]:
    """Newest first, as the page lists them."""
    with rt.db.session() as session:
        rows = session.execute(select(Notification.id, Notification.sent_at)
                               .where(Notification.org_id == org_id, Notification.provider == "outbox",
                                      Notification.sent_at.is_not(None))).all()
    return [i for i, _ in sorted(rows, key=lambda r: (r[1], r[0]), reverse=True)]


def test_outbox_lists_this_organisations_messages_newest_first(rt, client, played, tick):
    other = Org(rt, client, name="Other")
    other.post(interview_done(clock_module.now() - timedelta(hours=1), app="o-1", candidate="o-c-1",
                              name="Otto Other", interview="o-i-1"))
    tick(by=timedelta(hours=13))  # into Tuesday's send window, so the next-steps mail is written
    other_ids = outbox_ids(rt, other.id)
    assert other_ids, "the other organisation wrote mail to the same folder"
    sign_in(client, ADMIN)
    page = html(client.get("/dashboard/outbox"))
    assert listed(page) == outbox_ids(rt, played_org_id(rt, played))
    assert len(listed(page)) == 12  # 3 candidates x (next steps, 2 reminders, status update)
    assert not set(other_ids) & set(listed(page)) and "o-c-1@example.com" not in page
    assert HOSTILE not in page
    assert client.get(f"/dashboard/outbox/{other_ids[0]}").status_code == 404
    assert client.get(f"/dashboard/outbox/{other_ids[0]}/html").status_code == 404
    assert client.get(f"/dashboard/outbox/{other_ids[0]}/message.eml").status_code == 404


def played_org_id(rt: Any, played: Round) -> str:
    with rt.db.session() as session:
        notification = session.get(Notification, played.ada_messages[0].id)
        assert notification is not None
        return notification.org_id


def test_outbox_pages_fifty_a_page(rt, client, played):
    with rt.db.session() as session:  # more outbox rows, so there is a second page
        template = session.get(Notification, played.ada_messages[0].id)
        assert template is not None
        for i in range(45):
            session.add(Notification(org_id=template.org_id, application_id=template.application_id,
                                     candidate_id=template.candidate_id, kind=NotificationKind.NEXT_STEPS,
                                     recipient_email=f"bulk{i}@example.com", subject=f"Bulk {i}",
                                     state=template.state, scheduled_for=template.scheduled_for,
                                     sent_at=template.sent_at - timedelta(days=1, minutes=i), provider="outbox",
                                     created_at=template.created_at))
        session.commit()
    sign_in(client, ADMIN)
    first = html(client.get("/dashboard/outbox"))
    assert len(listed(first)) == 50 and 'rel="next"' in first and 'rel="prev"' not in first
    second = html(client.get("/dashboard/outbox?page=2"))
    assert len(listed(second)) == 7 and 'rel="prev"' in second and 'rel="next"' not in second
    assert not set(listed(first)) & set(listed(second))
    assert client.get("/dashboard/outbox?page=0").status_code == 400
    assert client.get("/dashboard/outbox?page=x").status_code == 400


def test_outbox_message_shows_the_mail_as_the_candidate_sees_it(client, played):
    status_update = next(n for n in played.ada_messages if n.kind == NotificationKind.STATUS_UPDATE)
    sign_in(client, ADMIN)
    page = html(client.get(f"/dashboard/outbox/{status_update.id}"))
    assert "<dt>From</dt><dd>Acme Talent &lt;talent@acme.example&gt;</dd>" in page
    assert "<dt>To</dt><dd>Ada Lovelace &lt;c-1@example.com&gt;</dd>" in page
    assert f"<dt>Subject</dt><dd>{status_update.subject}</dd>" in page
    assert re.search(r"<dt>Date</dt><dd>Mon 9 Nov 2026, \d\d:\d\d EST</dd>", page)
    assert f'<iframe class="message" sandbox src="/dashboard/outbox/{status_update.id}/html"' in page
    assert "Text part" in page and f'href="/dashboard/outbox/{status_update.id}/message.eml"' in page
    assert f'href="/dashboard/applications/{played.ada}"' in page

    served = client.get(f"/dashboard/outbox/{status_update.id}/html")
    assert served.status_code == 200 and served.mimetype == "text/html"
    assert served.headers["Content-Security-Policy"] == MESSAGE_CSP
    assert "<html" in html(served) and "Ada" in html(served)

    download = client.get(f"/dashboard/outbox/{status_update.id}/message.eml")
    assert download.status_code == 200 and download.mimetype == "message/rfc822"
    assert "attachment" in download.headers["Content-Disposition"]
    assert b"Subject:" in download.data and b"c-1@example.com" in download.data


def test_reply_to_header_is_shown_when_the_mail_has_one(rt, client, played):
    # A mail has a Reply-To only when a template override sets one: the page shows it exactly when the file has it.
    next_steps = played.ada_messages[0]
    sign_in(client, ADMIN)
    page = html(client.get(f"/dashboard/outbox/{next_steps.id}"))
    path = next(rt.settings.resolved_outbox_dir.glob(f"{next_steps.id:08d}-*.eml"))
    has_reply_to = b"\nReply-To:" in path.read_bytes()
    assert ("<dt>Reply-To</dt>" in page) == has_reply_to


def test_a_missing_file_is_a_calm_message(rt, client, played):
    shutil.rmtree(rt.settings.resolved_outbox_dir)
    message = played.ada_messages[0]
    sign_in(client, ADMIN)
    response = client.get(f"/dashboard/outbox/{message.id}")
    assert response.status_code == 200
    assert "no longer in the outbox folder" in html(response)
    assert client.get(f"/dashboard/outbox/{message.id}/html").status_code == 404
    assert client.get(f"/dashboard/outbox/{message.id}/message.eml").status_code == 404
    assert len(listed(html(client.get("/dashboard/outbox")))) == 12  # the list comes from the database


def test_a_manager_sees_only_their_departments_mail(client, played):
    sign_in(client, SALES_MANAGER)
    page = html(client.get("/dashboard/outbox"))
    assert "c-3@example.com" in page and "c-1@example.com" not in page
    assert len(listed(page)) == 4  # Sally's next steps, both reminders about her, her status update
    assert client.get(f"/dashboard/outbox/{played.ada_messages[0].id}").status_code == 404
    assert client.get(f"/dashboard/outbox/{played.ada_messages[0].id}/html").status_code == 404


def test_with_sendgrid_there_is_no_local_outbox(rt, client, played, monkeypatch):
    monkeypatch.setattr(rt, "settings", rt.settings.with_overrides(sendgrid_api_key="SG.test-key"))
    sign_in(client, ADMIN)
    page = html(client.get("/dashboard/outbox"))
    assert "Mail goes out through SendGrid, so there is no local outbox" in page
    assert listed(page) == []
    assert client.get(f"/dashboard/outbox/{played.ada_messages[0].id}").status_code == 404
