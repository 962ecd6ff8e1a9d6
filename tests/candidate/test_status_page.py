"""The candidate status page `/status/<token>` and "withdraw my application" (Flask test client).

Everything goes through the real ingestion path (`POST /api/v1/events`), the real sweep and a real
RQ worker (conftest's `tick`); the page is read as a candidate reads it, with the link from an email.
"""

from __future__ import annotations

import html
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import START
from helpers import event, interview_done, notifications, obligations, sent
from sqlalchemy import select

from plugin.candidate.status_page import make_csrf_token
from plugin.models import (
    Application,
    ApplicationStatus,
    InboundEvent,
    NotificationKind,
    NotificationState,
    ObligationState,
)
from plugin.notify import status_links

RECRUITER = "alan@acme.example"
FOOTER = "This page is private to you. Sent on behalf of Acme by Ghostless."


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def app_row(rt: Any, external_id: str = "a-1") -> Application:
    with rt.db.session() as session:
        app = session.scalar(select(Application).where(Application.external_id == external_id))
        assert app is not None
        session.expunge(app)
        return app


def link(rt: Any, external_id: str = "a-1") -> str:
    """The path of the link every candidate email carries."""
    return f"/status/{status_links.make_token(rt.settings, app_row(rt, external_id).id)}"


def page(client: Any, path: str, expect: int = 200, language: str | None = None) -> str:
    headers = {"Accept-Language": language} if language else {}
    response = client.get(path, headers=headers)
    assert response.status_code == expect, response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def text_of(body: str) -> str:
    """The page as a reader sees it: tags dropped, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def with_candidate(body: dict[str, Any], **fields: Any) -> dict[str, Any]:
    for key, value in fields.items():
        if value is None:
            body["candidate"].pop(key, None)
        else:
            body["candidate"][key] = value
    return body


def rejected(at: datetime, **kw: Any) -> dict[str, Any]:
    kw.setdefault("ats_notification", "none")
    return event("application.rejected", at, reason="Another candidate was a closer fit", **kw)


def two_rounds(org: Any, tick: Any) -> None:
    """A phone screen last week and an onsite today (Mon 2 Nov 09:00 New York): due Mon 9 Nov."""
    tick(at=utc(2026, 10, 28, 15))
    org.post(interview_done(utc(2026, 10, 28, 15), interview="i-0", stage="Phone screen"))
    tick(at=START)
    org.post(interview_done(START, interview="i-1", stage="Onsite"))
    tick()


def csrf_from(body: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', body)
    assert match, body
    return match.group(1)


# -- what the page shows -------------------------------------------------------------------------

def test_in_review_shows_the_stages_behind_them_and_the_date_they_will_hear_by(org, rt, client, tick):
    two_rounds(org, tick)
    [_, current] = obligations(rt.db)
    assert current.state is ObligationState.OPEN and current.due_at == utc(2026, 11, 9, 22)  # Mon 17:00 EST
    body = page(client, link(rt))
    text = text_of(body)
    assert "Your application" in text and "Hello Ada Lovelace," in text
    assert "Backend Engineer · Acme" in text
    assert "In review" in text and "The hiring team is reviewing your application." in text
    assert "You will hear from us by Monday 9 November" in text
    assert '<time datetime="2026-11-09">' in body
    # Oldest first, with the local date of each interview.
    assert "Completed: Phone screen — 28 October" in text
    assert text.index("Phone screen — 28 October") < text.index("Onsite — 2 November")
    assert "Withdraw my application" in text
    assert FOOTER in text
    assert '<html lang="en"' in body and "<main>" in body


def test_the_link_in_the_email_opens_the_page_and_both_give_the_same_date(org, rt, client, tick):
    two_rounds(org, tick)
    email = sent(rt.db, "next_steps")[-1]
    [url] = re.findall(r"https?://\S+/status/[\w.-]+", email.body_text)
    assert url.startswith(rt.settings.base_url)
    text = text_of(page(client, url.removeprefix(rt.settings.base_url)))
    assert "You will hear from us by Monday 9 November" in text
    assert "Monday 9 November" in email.body_text


def test_a_rejection_still_held_for_its_send_window_is_not_revealed(org, rt, client, tick):
    tick(at=START)
    org.post(interview_done(START))
    tick(at=utc(2026, 11, 2, 15))
    org.post(rejected(utc(2026, 11, 2, 15)))  # held until Tue 09:00 New York (1 working day)
    [rejection] = notifications(rt.db, "rejection")
    assert rejection.state is NotificationState.SCHEDULED
    assert app_row(rt).status is ApplicationStatus.REJECTED
    text = text_of(page(client, link(rt)))
    assert "In review" in text and "You will hear from us by" in text
    assert "Withdraw my application" in text  # the same page as for anyone in review
    assert "decided not to continue" not in text and "Decision made" not in text


def test_the_rejection_is_shown_once_its_email_was_sent(org, rt, client, tick):
    tick(at=START)
    org.post(interview_done(START))
    tick(at=utc(2026, 11, 2, 15))
    org.post(rejected(utc(2026, 11, 2, 15)))
    tick(at=utc(2026, 11, 3, 14))  # Tue 09:00 New York
    assert len(sent(rt.db, "rejection")) == 1
    text = text_of(page(client, link(rt)))
    assert "Decision made" in text and "decided not to continue with your application" in text
    assert "Withdraw my application" not in text and "You will hear from us" not in text
    assert "Onsite — 2 November" in text


def test_a_rejection_the_ats_sent_itself_is_shown(org, rt, client, tick):
    tick(at=START)
    org.post(interview_done(START), rejected(START + timedelta(minutes=5), ats_notification="sent"))
    assert notifications(rt.db, "rejection") == []
    assert "Decision made" in text_of(page(client, link(rt)))


def test_a_rejection_the_ats_has_only_scheduled_is_not_revealed(org, rt, client, tick):
    tick(at=START)
    org.post(interview_done(START), rejected(START + timedelta(minutes=5), ats_notification="scheduled"))
    text = text_of(page(client, link(rt)))
    assert "In review" in text and "Decision made" not in text
    assert "We will be in touch as soon as there is news." in text  # the cycle ended: no date to promise


def test_hired_shows_a_friendly_offer(org, rt, client, tick):
    tick(at=START)
    org.post(interview_done(START), event("application.hired", START + timedelta(hours=1)))
    text = text_of(page(client, link(rt)))
    assert "Offer" in text and "Congratulations! The hiring team has made you an offer." in text
    assert "Withdraw my application" not in text


def test_withdrawn_in_the_ats_shows_the_day_they_withdrew(org, rt, client, tick):
    tick(at=START)
    org.post(interview_done(START), event("application.withdrawn", utc(2026, 11, 3, 16)))
    text = text_of(page(client, link(rt)))
    assert "You withdrew your application on 3 November 2026." in text
    assert "Withdraw my application" not in text


def test_job_closed_is_shown_once_the_closing_notice_was_sent(org, rt, client, tick):
    tick(at=START)
    org.post(interview_done(START))
    tick(at=utc(2026, 11, 3, 15))
    org.post(event("job.closed", utc(2026, 11, 3, 15)))
    assert "In review" in text_of(page(client, link(rt)))  # the notice is held for an hour
    tick(by=timedelta(hours=1, minutes=1))
    assert len(sent(rt.db, "job_closed")) == 1
    text = text_of(page(client, link(rt)))
    assert "Position closed" in text and "This position has been closed or filled" in text
    assert "Withdraw my application" not in text


def test_an_erased_candidate_gets_a_410_and_no_personal_data(org, rt, client, tick):
    tick(at=START)
    org.post(interview_done(START))
    path = link(rt)
    org.post(event("candidate.erased", START + timedelta(hours=1), reason="deleted"))
    body = page(client, path, expect=410)
    text = text_of(body)
    assert "This page is no longer available" in text
    assert "Ada" not in text and "Backend Engineer" not in text
    assert client.get(path + "/withdraw").status_code == 410


def test_no_interview_and_no_title_still_reads_well(org, rt, client, tick):
    tick(at=START)
    created = event("application.created", START)
    created["job"].pop("title")
    org.post(created)
    text = text_of(page(client, link(rt)))
    assert "Your application at Acme" in text and "In review" in text
    assert "Your interviews so far" not in text


# -- languages -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("locale", "heading", "due", "stage"),
    [
        ("de", "Ihre Bewerbung", "Sie hören von uns bis spätestens Montag, 9. November", "Onsite — 2. November"),
        ("de-AT", "Ihre Bewerbung", "Montag, 9. November", "Onsite — 2. November"),
        ("fr", "Votre candidature", "au plus tard le lundi 9 novembre", "Onsite — 2 novembre"),
        ("es", "Su candidatura", "a más tardar el lunes, 9 de noviembre", "Onsite — 2 de noviembre"),
        ("en", "Your application", "You will hear from us by Monday 9 November", "Onsite — 2 November"),
    ],
)
def test_the_page_speaks_the_candidates_language(org, rt, client, tick, locale, heading, due, stage):
    tick(at=START)
    org.post(with_candidate(interview_done(START), locale=locale))
    body = page(client, link(rt), language="fr")  # the candidate's own locale wins over the browser's
    text = text_of(body)
    assert f'<html lang="{locale[:2]}"' in body
    assert heading in text and due in text and stage in text


def test_footer_and_withdraw_wording_are_translated(org, rt, client, tick):
    tick(at=START)
    org.post(with_candidate(interview_done(START), locale="de"))
    text = text_of(page(client, link(rt)))
    assert "Diese Seite ist nur für Sie bestimmt. Im Auftrag von Acme gesendet von Ghostless." in text
    assert "Bewerbung zurückziehen" in text


@pytest.mark.parametrize(
    ("locale", "intro", "told", "refused"),
    [
        ("de", "Sie sind dabei, Ihre Bewerbung als Backend Engineer bei Acme zurückzuziehen.",
         "Das Recruiting-Team wird sofort informiert.", "Bitte versuchen Sie es erneut Das Formular war "
         "unvollständig oder ist abgelaufen, daher wurde nichts geändert."),
        ("fr", "Vous êtes sur le point de retirer votre candidature au poste Backend Engineer chez Acme.",
         "L’équipe de recrutement en sera informée immédiatement.", "Veuillez réessayer Le formulaire était "
         "incomplet ou a expiré ; rien n’a été modifié."),
        ("es", "Está a punto de retirar su candidatura al puesto Backend Engineer en Acme.",
         "Se informará de inmediato al equipo de selección.", "Inténtelo de nuevo El formulario estaba "
         "incompleto o ha caducado, así que no se ha cambiado nada."),
        ("en", "You are about to withdraw your application for Backend Engineer at Acme.",
         "The hiring team will be told right away.", "Please try again This form was incomplete or has "
         "expired, so nothing was changed."),
    ],
)
def test_the_withdrawal_pages_speak_the_candidates_language(org, rt, client, tick, locale, intro, told,
                                                          refused):
    tick(at=START)
    org.post(with_candidate(interview_done(START), locale=locale))
    path = link(rt)
    text = text_of(page(client, path + "/withdraw"))
    assert intro in text and told in text
    response = client.post(path + "/withdraw", data={})
    assert response.status_code == 400 and refused in text_of(response.get_data(as_text=True))


@pytest.mark.parametrize(
    ("locale", "accept", "expected"),
    [
        (None, "fr-CH, fr;q=0.9, en;q=0.5", "fr"),  # no locale: the browser decides
        (None, "it, es;q=0.8", "es"),  # first language we have
        (None, None, "en"),
        ("it", "de", "de"),  # a locale we do not have: the browser's next
        ("pt-BR", None, "en"),  # nothing we have: English
    ],
)
def test_language_fallbacks(org, rt, client, tick, locale, accept, expected):
    tick(at=START)
    org.post(with_candidate(interview_done(START), locale=locale))
    body = page(client, link(rt), language=accept)
    assert f'<html lang="{expected}"' in body


# -- links that do not open ----------------------------------------------------------------------

def test_a_forged_or_altered_token_is_a_404_that_says_the_link_is_not_valid(org, rt, client, tick):
    tick(at=START)
    org.post(interview_done(START))
    good = link(rt)
    altered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    forged = "/status/" + status_links.URLSafeTimedSerializer("not-our-key", salt=status_links.SALT).dumps(
        app_row(rt).id)
    for path in (altered, forged, "/status/nonsense", "/status/" + "x" * 3000, "/status/%00%ff"):
        text = text_of(page(client, path, expect=404))
        assert "This link is not valid" in text and "Traceback" not in text
    assert "Dieser Link ist ungültig" in text_of(page(client, forged, expect=404, language="de-DE,de;q=0.9"))
    assert "Ce lien n’est pas valide" in text_of(page(client, forged, expect=404, language="fr"))
    assert client.post(forged + "/withdraw", data={"csrf_token": "x"}).status_code == 404


def test_a_genuine_token_for_an_application_that_does_not_exist_is_not_valid(org, rt, client, tick):
    path = "/status/" + status_links.make_token(rt.settings, 999_999)
    assert "This link is not valid" in text_of(page(client, path, expect=404))


def test_an_expired_link_is_a_410_that_says_what_to_do(org, rt, client, tick, clock):
    tick(at=START)
    org.post(interview_done(START))
    path = link(rt)
    clock.advance(timedelta(days=179))
    page(client, path)
    clock.advance(timedelta(days=2))  # past the 180-day retention period
    text = text_of(page(client, path, expect=410))
    assert "This link has expired" in text and "Reply to any of our emails" in text
    assert "Dieser Link ist abgelaufen" in text_of(page(client, path, expect=410, language="de"))
    assert client.get(path + "/withdraw").status_code == 410


# -- safety --------------------------------------------------------------------------------------

def test_every_value_is_escaped(org, rt, client, tick):
    tick(at=START)
    hostile = with_candidate(interview_done(START, name="<script>alert(1)</script>"))
    hostile["job"]["title"] = '"><img src=x onerror=alert(2)>'
    hostile["interview"]["stage"] = "<b>Onsite</b>"
    org.post(hostile)
    body = page(client, link(rt))
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<img" not in body and "&lt;img src=x onerror=alert(2)&gt;" in body
    assert "<b>Onsite</b>" not in body and "&lt;b&gt;Onsite&lt;/b&gt;" in body
    assert "Hello <script>alert(1)</script>," in text_of(body)  # shown literally
    confirm = page(client, link(rt) + "/withdraw")
    assert "<img" not in confirm and "&lt;img src=x onerror=alert(2)&gt;" in confirm


def assert_private_headers(response: Any) -> None:
    headers = response.headers
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Robots-Tag"] == "noindex, nofollow"
    assert headers["X-Content-Type-Options"] == "nosniff"
    csp = headers["Content-Security-Policy"]
    for directive in ("default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"):
        assert directive in csp
    assert re.search(r"style-src ('nonce-[A-Za-z0-9_-]+'|'self'|'none')", csp)
    assert "script-src" not in csp and "unsafe-inline" not in csp


def test_every_response_carries_the_private_page_headers(org, rt, client, tick, clock):
    tick(at=START)
    org.post(interview_done(START))
    path = link(rt)
    responses = [
        client.get(path), client.get(path + "/withdraw"), client.post(path + "/withdraw"),
        client.get("/status/forged"), client.put(path), client.get("/status/"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 400, 404, 405, 404]
    for response in responses:
        assert_private_headers(response)
    # The inline style is allowed by the nonce of that very response, and only by it.
    first = responses[0]
    nonce = re.search(r"'nonce-([^']+)'", first.headers["Content-Security-Policy"]).group(1)
    assert f'<style nonce="{nonce}">' in first.get_data(as_text=True)
    assert nonce not in client.get(path).headers["Content-Security-Policy"]
    assert "<script" not in first.get_data(as_text=True)
    clock.advance(timedelta(days=181))
    assert_private_headers(client.get(path))


# -- withdrawing ---------------------------------------------------------------------------------

def interviewed_after_hours(org: Any, tick: Any) -> None:
    """Interview ended Mon 18:00 New York: the thank-you waits for Tue 09:00, the ladder is set."""
    ended = utc(2026, 11, 2, 23)
    tick(at=ended)
    org.post(interview_done(ended))
    tick(by=timedelta(minutes=30))
    [next_steps] = notifications(org.rt.db, "next_steps")
    assert next_steps.state is NotificationState.SCHEDULED


def withdrawal_events(rt: Any) -> list[InboundEvent]:
    with rt.db.session() as session:
        return list(session.scalars(select(InboundEvent).where(InboundEvent.event_type == "application.withdrawn")
                                    .order_by(InboundEvent.id)))


def test_the_confirmation_page_explains_what_happens_and_offers_a_way_back(org, rt, client, tick):
    interviewed_after_hours(org, tick)
    path = link(rt)
    body = page(client, path + "/withdraw")
    text = text_of(body)
    assert "Withdraw your application?" in text
    assert "Backend Engineer at Acme" in text
    assert "The hiring team will be told right away." in text
    assert "You will not receive further messages about this application." in text
    assert "This cannot be undone from here." in text
    assert re.search(r'<form method="post" action="%s/withdraw">' % re.escape(path), body)
    assert '<button type="submit"' in body and "Yes, withdraw my application" in text
    assert f'href="{path}"' in body and "No, keep my application" in text
    assert app_row(rt).status is ApplicationStatus.ACTIVE  # looking changes nothing


def test_withdraw_without_a_valid_form_token_is_refused_and_changes_nothing(org, rt, client, tick, clock):
    interviewed_after_hours(org, tick)
    path = link(rt)
    tick(by=timedelta(minutes=10))  # a second application: its form token must not work for the first
    org.post(with_candidate(interview_done(clock.now(), app="a-2", candidate="c-2", interview="i-2", name="Bob"),
                            locale="de"))
    other_link = link(rt, "a-2")
    stale = csrf_from(page(client, path + "/withdraw"))
    clock.advance(timedelta(hours=3))
    for form in ({}, {"csrf_token": ""}, {"csrf_token": "forged"},
                 {"csrf_token": make_csrf_token(rt.settings, other_link.removeprefix("/status/"))},
                 {"csrf_token": stale}):
        response = client.post(path + "/withdraw", data=form)
        assert response.status_code == 400
        text = text_of(response.get_data(as_text=True))
        assert "Please try again" in text and "nothing was changed" in text and "Back to your status page" in text
    german = client.post(other_link + "/withdraw", data={})
    assert german.status_code == 400 and "Bitte versuchen Sie es erneut" in german.get_data(as_text=True)
    assert app_row(rt).status is ApplicationStatus.ACTIVE
    assert withdrawal_events(rt) == [] and notifications(rt.db, "candidate_withdrew") == []


def test_withdraw_records_the_event_tells_the_recruiter_and_a_second_post_changes_nothing(org, rt, client, tick):
    interviewed_after_hours(org, tick)
    path = link(rt)
    application_id = app_row(rt).id
    token = csrf_from(page(client, path + "/withdraw"))

    response = client.post(path + "/withdraw", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == path
    assert_private_headers(response)
    assert app_row(rt).status is ApplicationStatus.WITHDRAWN
    [recorded] = withdrawal_events(rt)
    assert recorded.source == "status_page" and recorded.event_id == f"status-page-withdraw-{application_id}"
    assert recorded.outcome.value == "applied"
    [told] = notifications(rt.db, "candidate_withdrew")
    assert told.recipient_email == RECRUITER and told.recipient_name == "Alan Turing"
    assert told.dedupe_key == f"candidate_withdrew:a{application_id}"
    assert told.application_id == application_id and told.state is NotificationState.SCHEDULED
    assert told.context == {"withdrawn_at_text": "Mon 2 Nov 2026, 18:30 EST"}  # the organisation's zone
    # Withdrawing ends the cycle and cancels what the candidate was still going to get.
    [ob] = obligations(rt.db)
    assert ob.state is ObligationState.CLOSED and ob.closed_reason == "withdrawn"
    [next_steps] = notifications(rt.db, "next_steps")
    assert next_steps.state is NotificationState.CANCELLED

    text = text_of(page(client, path))
    assert "Withdrawn" in text and "You withdrew your application on 2 November 2026." in text
    assert "Withdraw my application" not in text

    again = client.post(path + "/withdraw", data={"csrf_token": token})
    assert again.status_code == 303 and again.headers["Location"] == path
    assert len(withdrawal_events(rt)) == 1 and len(notifications(rt.db, "candidate_withdrew")) == 1
    confirm_again = client.get(path + "/withdraw")
    assert confirm_again.status_code == 303 and confirm_again.headers["Location"] == path


def test_after_withdrawing_only_the_recruiter_hears_about_it(org, rt, client, tick, outbox):
    interviewed_after_hours(org, tick)
    path = link(rt)
    client.post(path + "/withdraw", data={"csrf_token": csrf_from(page(client, path + "/withdraw"))})
    tick()
    [told] = notifications(rt.db, "candidate_withdrew")
    # Internal mail keeps the organisation's working hours: the recruiter hears at 09:00.
    assert told.state is NotificationState.SCHEDULED and told.scheduled_for == utc(2026, 11, 3, 14)
    for day in range(1, 12):  # the ladder and the thank-you never fire for a withdrawn candidate
        tick(at=utc(2026, 11, 2, 23) + timedelta(days=day))
    to_candidate = [n for n in notifications(rt.db) if n.kind.is_candidate_facing
                    and n.state is not NotificationState.CANCELLED]
    assert to_candidate == []
    assert {n.kind for n in sent(rt.db)} <= {NotificationKind.CANDIDATE_WITHDREW}


def test_the_recruiter_gets_the_withdrawal_email(org, rt, client, tick, outbox):
    interviewed_after_hours(org, tick)
    path = link(rt)
    client.post(path + "/withdraw", data={"csrf_token": csrf_from(page(client, path + "/withdraw"))})
    tick(at=utc(2026, 11, 3, 14))  # Tue 09:00 New York: the recruiter's working hours
    [told] = notifications(rt.db, "candidate_withdrew")
    assert told.state is NotificationState.SENT, (told.state, told.cancelled_reason, told.last_error)
    [mail] = [m for m in outbox() if m["X-Ghostless-Kind"] == "candidate_withdrew"]
    assert RECRUITER in mail["To"]


def test_withdrawing_while_a_rejection_is_held_cancels_it(org, rt, client, tick):
    tick(at=START)
    org.post(interview_done(START))
    tick(at=utc(2026, 11, 2, 15))
    org.post(rejected(utc(2026, 11, 2, 15)))
    path = link(rt)
    client.post(path + "/withdraw", data={"csrf_token": csrf_from(page(client, path + "/withdraw"))})
    assert app_row(rt).status is ApplicationStatus.WITHDRAWN
    [rejection] = notifications(rt.db, "rejection")
    assert rejection.state is NotificationState.CANCELLED
    tick(at=utc(2026, 11, 3, 15))
    assert sent(rt.db, "rejection") == []


def test_a_decided_application_cannot_be_withdrawn(org, rt, client, tick):
    tick(at=START)
    org.post(interview_done(START), event("application.hired", START + timedelta(hours=1)))
    path = link(rt)
    assert client.get(path + "/withdraw").status_code == 303
    token = make_csrf_token(rt.settings, path.removeprefix("/status/"))
    response = client.post(path + "/withdraw", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == path
    assert app_row(rt).status is ApplicationStatus.HIRED
    assert withdrawal_events(rt) == [] and notifications(rt.db, "candidate_withdrew") == []


def test_withdrawing_again_after_the_ats_reopened_the_application(org, rt, client, tick):
    interviewed_after_hours(org, tick)
    path = link(rt)
    application_id = app_row(rt).id
    client.post(path + "/withdraw", data={"csrf_token": csrf_from(page(client, path + "/withdraw"))})
    tick(by=timedelta(hours=1))
    org.post(event("application.reopened", utc(2026, 11, 3, 0, 30)))
    assert app_row(rt).status is ApplicationStatus.ACTIVE
    tick(by=timedelta(hours=1))
    client.post(path + "/withdraw", data={"csrf_token": csrf_from(page(client, path + "/withdraw"))})
    assert app_row(rt).status is ApplicationStatus.WITHDRAWN
    assert [e.event_id for e in withdrawal_events(rt)] == [
        f"status-page-withdraw-{application_id}", f"status-page-withdraw-{application_id}-2"]
    assert len(notifications(rt.db, "candidate_withdrew")) == 2


def test_simultaneous_submits_withdraw_once(org, rt, client, tick, app):
    interviewed_after_hours(org, tick)
    path = link(rt)
    token = csrf_from(page(client, path + "/withdraw"))
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def submit() -> None:
        own_client = app.test_client()
        barrier.wait(timeout=10)
        statuses.append(own_client.post(path + "/withdraw", data={"csrf_token": token}).status_code)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [303] * 4
    assert app_row(rt).status is ApplicationStatus.WITHDRAWN
    assert len(withdrawal_events(rt)) == 1 and len(notifications(rt.db, "candidate_withdrew")) == 1
