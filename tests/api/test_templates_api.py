"""Template overrides and previews through the API, and what candidates actually receive:
their language (with a recorded fallback), the organisation's wording, a status link."""

from __future__ import annotations

from typing import Any

from conftest import START, Org
from helpers import interview_done, sent
from sqlalchemy import func, select

from plugin.models import AuditEntry, TemplateOverride

OVERRIDE = {
    "subject": "Thanks for meeting us, {{ candidate.first_name }}",
    "body": "Dear {{ candidate.name }},\n\nThank you for the {{ job.title }} interview.\n"
            "You will hear from us by {{ due_date }}.",
    "sender_name": "Acme People Team",
    "reply_to": "people@acme.example",
    "signature": "Warm regards,\nThe Acme People Team",
}


def put(org: Org, path: str, body: Any, expect: int) -> Any:
    response = org.client.put(path, json=body, headers=org.headers)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def overrides(rt: Any) -> int:
    with rt.db.session() as session:
        return session.scalar(select(func.count()).select_from(TemplateOverride)) or 0


def test_list_shows_every_kind_in_four_languages(org: Org) -> None:
    listing = org.get("/api/v1/templates")
    kinds = {k["kind"]: k for k in listing["kinds"]}
    assert {"next_steps", "job_closed", "reply_ack", "candidate_withdrew"} <= set(kinds)
    assert all({"en", "de", "fr", "es"} <= set(k["locales"]) for k in kinds.values())
    assert kinds["next_steps"]["candidate_facing"] and not kinds["escalation"]["candidate_facing"]


def test_preview_in_german_and_a_fallback_for_a_missing_language(org: Org) -> None:
    german = org.get("/api/v1/templates/next_steps/preview?locale=de")
    assert (german["rendered_locale"], german["fallback"]) == ("de", False)
    assert "Acme" in german["text"] and 'lang="de"' in german["html"]
    assert "November" in german["text"] and "Monday" not in german["text"]  # dates in German too
    portuguese = org.get("/api/v1/templates/next_steps/preview?locale=pt-BR")
    assert (portuguese["rendered_locale"], portuguese["fallback"]) == ("en", True)
    html = org.client.get("/api/v1/templates/rejection/preview?locale=fr&format=html", headers=org.headers)
    assert html.status_code == 200 and html.mimetype == "text/html" and b'lang="fr"' in html.data


def test_preview_refuses_unknown_kinds_and_bad_locales(org: Org) -> None:
    unknown = org.get("/api/v1/templates/thank_you/preview", expect=404)
    assert "next_steps" in unknown["message"]
    assert org.get("/api/v1/templates/next_steps/preview?locale=not a locale!", expect=422)


def test_an_override_that_does_not_render_is_refused_and_nothing_changes(org: Org, rt: Any) -> None:
    path = "/api/v1/templates/next_steps/overrides/en"
    syntax = put(org, path, {"body": "Dear {{ candidate.name }"}, 422)
    assert "syntax" in syntax["message"] and "body" in syntax["errors"]["json"]
    typo = put(org, path, {"subject": "Hi {{ candiate.name }}"}, 422)
    assert "candiate" in typo["errors"]["json"]["subject"][0]
    assert put(org, path, {"reply_to": "not an address"}, 422)
    assert put(org, path, {"body": "x", "colour": "red"}, 422)
    assert put(org, "/api/v1/templates/next_steps/overrides/pt", {"body": "Olá"}, 422)
    assert put(org, path, {}, 422)
    assert overrides(rt) == 0
    assert org.get(path, expect=404)


def test_override_is_previewed_and_audited_and_deleted(org: Org, rt: Any) -> None:
    path = "/api/v1/templates/next_steps/overrides/en"
    saved = put(org, path, OVERRIDE, 200)
    assert saved["sender_name"] == "Acme People Team"
    preview = org.get("/api/v1/templates/next_steps/preview?locale=en")
    assert preview["subject"] == "Thanks for meeting us, Ada"
    assert preview["sender"].startswith("Acme People Team <") and preview["reply_to"] == "people@acme.example"
    assert "Warm regards,\nThe Acme People Team" in preview["text"]
    assert "/status/" in preview["text"], "the status link is added when the body leaves it out"
    assert sorted(preview["overridden"]) == sorted(OVERRIDE)
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.entity == "template_override")) == 1
    assert org.client.delete(path, headers=org.headers).status_code == 204
    assert org.get(path, expect=404)
    assert org.get("/api/v1/templates/next_steps/preview")["overridden"] == []


def test_another_organisation_never_sees_or_uses_an_override(org: Org, rt: Any, client: Any) -> None:
    put(org, "/api/v1/templates/next_steps/overrides/en", OVERRIDE, 200)
    other = Org(rt, client, name="Globex")
    assert other.get("/api/v1/templates/next_steps/overrides/en", expect=404)
    assert other.get("/api/v1/templates/next_steps/preview")["overridden"] == []


def test_the_candidate_receives_the_override_with_a_status_link(org: Org, rt: Any, tick: Any, outbox: Any) -> None:
    put(org, "/api/v1/templates/next_steps/overrides/en", {**OVERRIDE, "subject": "Thanks\r\nBcc: x@evil.example"}, 200)
    org.post(interview_done(START))
    tick()
    [mail] = outbox()
    assert mail["Subject"] == "Thanks Bcc: x@evil.example" and mail["Bcc"] is None
    assert mail["From"].addresses[0].display_name == "Acme People Team"
    assert str(mail["Reply-To"]) == "people@acme.example"
    text = mail.get_body(("plain",)).get_content()
    assert "Dear Ada Lovelace" in text and "/status/" in text and "Warm regards" in text


def test_a_german_candidate_gets_german_mail_and_a_missing_language_is_recorded(org: Org, rt: Any, tick: Any) -> None:
    org.post(interview_done(START, app="a-de", candidate="c-de", interview="i-de", name="Jana Schmidt"),
             interview_done(START, app="a-pt", candidate="c-pt", interview="i-pt", name="Rui Costa"))
    with rt.db.session() as session:
        from plugin.models import Candidate
        for candidate in session.scalars(select(Candidate)):
            candidate.locale = {"c-de": "de-AT", "c-pt": "pt-BR"}[candidate.external_id]
    tick()
    by_name = {n.recipient_name: n for n in sent(rt.db, "next_steps")}
    german, portuguese = by_name["Jana Schmidt"], by_name["Rui Costa"]
    assert (german.locale, german.locale_fallback_from) == ("de", "de-AT")
    assert "Montag" in german.body_text or "Dienstag" in german.body_text or "November" in german.body_text
    assert (portuguese.locale, portuguese.locale_fallback_from) == ("en", "pt-BR")
