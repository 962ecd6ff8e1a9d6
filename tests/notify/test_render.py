"""Email rendering: every kind, missing names, escaping, one-line subjects, locale fallback."""

from __future__ import annotations

import logging
import re
import shutil

import pytest

from plugin.notify.render import (
    KINDS,
    RenderedMessage,
    TemplateError,
    TemplateRenderer,
    default_template_dir,
)

CANDIDATE_KINDS = ("next_steps", "status_update", "rejection", "job_closed")
INTERNAL_KINDS = ("reminder_recruiter", "reminder_hiring_manager", "escalation", "delivery_failed")

DUE_DATE = "Monday 16 November"
NEXT_DATE = "Friday 27 November"
DUE_AT_TEXT = "Mon 16 Nov 2026, 17:00 EST"
AUTOPILOT_AT_TEXT = "Mon 16 Nov 2026, 09:00 EST"


def full_context(**overrides):
    ctx = {
        "org": {"name": "Acme Corp", "sender_name": "Alan Turing"},
        "candidate": {"name": "Ada Lovelace", "first_name": "Ada"},
        "job": {"title": "Backend Engineer", "department": "Engineering"},
        "application": {"stage": "Onsite", "external_id": "app-42"},
        "recipient_name": "Grace Hopper",
        "interview_stage": "Onsite",
        "due_date": DUE_DATE,
        "next_date": NEXT_DATE,
        "note": "Thanks again for Tuesday.\nThe team enjoyed meeting you.",
        "autopilot": True,
        "jobs": ["Backend Engineer"],
        "due_at_text": DUE_AT_TEXT,
        "autopilot_at_text": AUTOPILOT_AT_TEXT,
        "reason": "Autopilot is off for this job and nobody has contacted the candidate",
        "failed_kind_label": "status update",
        "error": "550 5.1.1 mailbox unavailable",
    }
    ctx.update(overrides)
    return ctx


def nameless_context(**overrides):
    ctx = full_context(
        org={"name": "Acme Corp", "sender_name": None},
        candidate={"name": None, "first_name": None},
        job={"title": None, "department": None},
        application={"stage": None, "external_id": "app-42"},
        recipient_name=None,
        interview_stage=None,
        note=None,
        jobs=[],
        autopilot_at_text=None,
    )
    ctx.update(overrides)
    return ctx


@pytest.fixture(scope="module")
def renderer() -> TemplateRenderer:
    return TemplateRenderer()


def _visible(html: str) -> str:
    """Rough visible text of an HTML part (tags dropped, whitespace collapsed)."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_default_template_dir_has_english_templates():
    path = default_template_dir()
    assert (path / "emails" / "en").is_dir()
    assert (path / "emails" / "_layout.html").is_file()


def test_locales_lists_english(renderer):
    assert "en" in renderer.locales()
    assert all(not loc.startswith("_") for loc in renderer.locales())


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_with_full_context(renderer, kind):
    msg = renderer.render(kind, "en", full_context())
    assert isinstance(msg, RenderedMessage)
    assert msg.subject and "\n" not in msg.subject and len(msg.subject) <= 200
    assert msg.text.strip() and msg.html.strip()
    for part in (msg.subject, msg.text, msg.html):
        assert "None" not in part
        assert "Undefined" not in part
        assert "{{" not in part and "{%" not in part
    assert '<html lang="en"' in msg.html
    assert "max-width:600px" in msg.html
    assert "Backend Engineer" in msg.text


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_with_names_missing(renderer, kind):
    msg = renderer.render(kind, "en", nameless_context())
    assert msg.subject and "\n" not in msg.subject
    for part in (msg.subject, msg.text, msg.html):
        assert "None" not in part
        assert "Undefined" not in part
    for part in (msg.subject, msg.text):
        assert not re.search(r" [,.;:)]|\( |  ", part), part  # no holes left by missing values
    if kind in CANDIDATE_KINDS:
        assert msg.text.startswith("Hello,")
        assert "Hello," in msg.html


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_with_empty_context(renderer, kind):
    msg = renderer.render(kind, "en", {})
    assert msg.subject and msg.text.strip() and msg.html.strip()
    assert "None" not in msg.text + msg.html


@pytest.mark.parametrize("kind", CANDIDATE_KINDS)
def test_candidate_kinds_greet_by_first_name_and_sign_off(renderer, kind):
    msg = renderer.render(kind, "en", full_context())
    assert msg.text.startswith("Hi Ada,")
    assert "Hi Ada," in msg.html
    assert "Alan Turing" in msg.text and "Acme Corp" in msg.text
    assert "Alan Turing" in msg.html
    assert "automated" not in (msg.text + msg.html).lower()


def test_next_steps_mentions_due_date(renderer):
    msg = renderer.render("next_steps", "en", full_context())
    assert DUE_DATE in msg.text
    assert DUE_DATE in _visible(msg.html)
    assert "at the latest" in msg.text


@pytest.mark.parametrize("autopilot", [True, False])
def test_status_update_mentions_next_date_and_no_decision(renderer, autopilot):
    msg = renderer.render("status_update", "en", full_context(autopilot=autopilot))
    assert NEXT_DATE in msg.text
    assert NEXT_DATE in _visible(msg.html)
    assert "no decision yet" in msg.text.lower()
    assert "automated" not in (msg.text + msg.html).lower()


def test_status_update_shows_note_only_when_present(renderer):
    with_note = renderer.render("status_update", "en", full_context())
    assert "Thanks again for Tuesday." in with_note.text
    assert "The team enjoyed meeting you." in with_note.text
    assert "Thanks again for Tuesday.<br>" in with_note.html
    without = renderer.render("status_update", "en", full_context(note=None))
    assert "A note from" not in without.text
    blank = renderer.render("status_update", "en", full_context(note="   "))
    assert "A note from" not in blank.text


def test_note_is_escaped_in_html(renderer):
    msg = renderer.render("status_update", "en", full_context(note="<b>hi</b>\n<script>x()</script>"))
    assert "<script>" not in msg.html
    assert "&lt;b&gt;hi&lt;/b&gt;" in msg.html
    assert "<script>x()</script>" in msg.text


def test_rejection_is_final_and_names_the_job(renderer):
    msg = renderer.render("rejection", "en", full_context())
    assert "Backend Engineer" in msg.subject
    assert "not be moving forward" in msg.text
    assert "thank you" in msg.text.lower()
    assert DUE_DATE not in msg.text and NEXT_DATE not in msg.text


def test_job_closed_single_and_multiple(renderer):
    one = renderer.render("job_closed", "en", full_context())
    assert "Backend Engineer" in one.text and "closed" in one.text
    many = renderer.render("job_closed", "en", full_context(jobs=["Backend Engineer", "Data Engineer"]))
    assert "- Backend Engineer" in many.text and "- Data Engineer" in many.text
    assert "<li" in many.html and "Data Engineer" in many.html
    fallback = renderer.render("job_closed", "en", full_context(jobs=None))
    assert "Backend Engineer" in fallback.text


def test_reminder_with_and_without_autopilot(renderer):
    for kind in ("reminder_recruiter", "reminder_hiring_manager"):
        on = renderer.render(kind, "en", full_context(autopilot=True))
        assert DUE_AT_TEXT in on.text and AUTOPILOT_AT_TEXT in on.text
        assert "Ada Lovelace" in on.text and "Backend Engineer" in on.text
        assert "status update itself" in on.text
        assert "Hi Grace Hopper," in on.text
        off = renderer.render(kind, "en", full_context(autopilot=False, autopilot_at_text=None))
        assert AUTOPILOT_AT_TEXT not in off.text
        assert "breached" in off.text and "escalated" in off.text


def test_escalation_and_delivery_failed_details(renderer):
    esc = renderer.render("escalation", "en", full_context())
    assert "Autopilot is off for this job" in esc.text and DUE_AT_TEXT in esc.text
    failed = renderer.render("delivery_failed", "en", full_context())
    assert "status update" in failed.text and "550 5.1.1 mailbox unavailable" in failed.text
    assert "another way" in failed.text
    no_due = renderer.render("delivery_failed", "en", full_context(due_at_text=None))
    assert "before" not in no_due.text.split("What to do:")[1].split("\n")[0]


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_name_is_escaped_in_html_and_literal_in_text(renderer, kind):
    evil = "<script>alert(1)</script>"
    ctx = full_context(
        candidate={"name": evil, "first_name": evil},
        job={"title": f"Engineer {evil}", "department": evil},
        jobs=[f"Engineer {evil}"],
        org={"name": f"Acme {evil}", "sender_name": evil},
        recipient_name=evil,
    )
    msg = renderer.render(kind, "en", ctx)
    assert "<script" not in msg.html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in msg.html
    assert evil in msg.text


@pytest.mark.parametrize("kind", KINDS)
def test_subject_header_injection_is_one_line(renderer, kind):
    ctx = full_context(
        job={"title": "Engineer\r\nBcc: evil@example.com", "department": None},
        jobs=["Engineer\r\nBcc: evil@example.com"],
        candidate={"name": "Ada\nLovelace", "first_name": "Ada"},
    )
    msg = renderer.render(kind, "en", ctx)
    assert "\r" not in msg.subject and "\n" not in msg.subject
    assert not re.search(r"[\x00-\x1f\x7f]", msg.subject)
    assert msg.subject == msg.subject.strip()


def test_subject_mentions_job_for_injection_case(renderer):
    msg = renderer.render(
        "rejection", "en", full_context(job={"title": "Engineer\r\nBcc: evil@example.com"})
    )
    assert msg.subject == "Your application for Engineer Bcc: evil@example.com at Acme Corp"


def test_subject_is_capped_at_200_chars(renderer):
    msg = renderer.render("rejection", "en", full_context(job={"title": "X" * 500}))
    assert len(msg.subject) <= 200


def test_locale_fallback_to_english_is_logged(renderer, caplog):
    english = renderer.render("next_steps", "en", full_context())
    with caplog.at_level(logging.INFO, logger="plugin.notify.render"):
        msg = renderer.render("next_steps", "pt-BR", full_context())  # a language with no templates
    assert msg == english
    assert any(
        rec.levelno == logging.INFO and "pt-BR" in rec.getMessage() and "'en'" in rec.getMessage()
        for rec in caplog.records
    )


def test_no_locale_uses_default_without_fallback_log(renderer, caplog):
    with caplog.at_level(logging.INFO, logger="plugin.notify.render"):
        msg = renderer.render("rejection", None, full_context())
    assert "Backend Engineer" in msg.text
    assert not caplog.records


def test_fallback_prefers_language_over_default(tmp_path, caplog):
    src = default_template_dir() / "emails"
    shutil.copytree(src / "en", tmp_path / "emails" / "en")  # English only: German is built below
    shutil.copy(src / "_layout.html", tmp_path / "emails" / "_layout.html")
    de = tmp_path / "emails" / "de"
    de.mkdir()
    (de / "rejection.subject.txt").write_text("Ihre Bewerbung", encoding="utf-8")
    (de / "rejection.txt").write_text("Hallo {{ candidate.first_name }}", encoding="utf-8")
    (de / "rejection.html").write_text(
        '{% extends "emails/_layout.html" %}{% block content %}Hallo {{ candidate.first_name }}'
        "{% endblock %}",
        encoding="utf-8",
    )
    r = TemplateRenderer(tmp_path)
    assert r.locales() == ["de", "en"]
    with caplog.at_level(logging.INFO, logger="plugin.notify.render"):
        msg = r.render("rejection", "de_at", full_context())
    assert msg.subject == "Ihre Bewerbung"
    assert msg.text == "Hallo Ada\n"
    assert '<html lang="de"' in msg.html
    assert any("de_at" in rec.getMessage() for rec in caplog.records)
    # a kind German lacks falls back to English
    assert r.render("next_steps", "de", full_context()).text.startswith("Hi Ada,")


def test_hostile_locale_falls_back_to_default(renderer):
    msg = renderer.render("rejection", "../../etc/passwd", full_context())
    assert "Backend Engineer" in msg.text


@pytest.mark.parametrize("kind", ["nope", "", "../emails/en/rejection", "_layout", "Rejection"])
def test_unknown_kind_raises_template_error(renderer, kind):
    with pytest.raises(TemplateError) as info:
        renderer.render(kind, "en", full_context())
    assert isinstance(info.value, ValueError)


def test_broken_template_raises_template_error_naming_kind_and_locale(tmp_path):
    en = tmp_path / "emails" / "en"
    en.mkdir(parents=True)
    (en / "rejection.subject.txt").write_text("ok", encoding="utf-8")
    (en / "rejection.txt").write_text("{% if %}", encoding="utf-8")
    (en / "rejection.html").write_text("<p>ok</p>", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"rejection.*en"):
        TemplateRenderer(tmp_path).render("rejection", "en", {})


def test_missing_template_dir_raises_template_error(tmp_path):
    r = TemplateRenderer(tmp_path / "missing")
    assert r.locales() == []
    with pytest.raises(TemplateError):
        r.render("rejection", "en", {})
