"""Email templates in every language: complete, really translated, escaped, with the status link and
the organisation's signature. No database: the renderer and the sample context are enough."""

from __future__ import annotations

import html as html_lib
import logging
import re
from typing import Any

import pytest

from plugin.models import CANDIDATE_KINDS, NotificationKind
from plugin.notify.render import TemplateRenderer, default_template_dir
from plugin.notify.samples import SAMPLE_KINDS, SAMPLE_STATUS_URL, sample_context

LOCALES = ("en", "de", "fr", "es")
TRANSLATED = ("de", "fr", "es")
KINDS = tuple(kind.value for kind in NotificationKind)
CANDIDATE = tuple(kind.value for kind in NotificationKind if kind in CANDIDATE_KINDS)
INTERNAL = tuple(kind for kind in KINDS if kind not in CANDIDATE)
PARTS = ("subject.txt", "txt", "html")

GREETINGS = {"en": "Hi Ada,", "de": "Guten Tag Ada Lovelace,", "fr": "Bonjour Ada Lovelace,", "es": "Hola, Ada:"}
# The default closings of candidate mail; an organisation's signature replaces them.
CLOSINGS = {
    "en": ("Best wishes,", "Kind regards,"),
    "de": ("Viele Grüße", "Freundliche Grüße"),
    "fr": ("Bien à vous,", "Cordialement,"),
    "es": ("Un cordial saludo,",),
}
# English that must never survive in a German, French or Spanish message (values removed first).
ENGLISH_MARKERS = re.compile(
    r"\bHi\b|\bHello\b|\bThank you\b|\bapplication\b|\bWe\b|\bthe\b|\byour?\b|\bplease\b|\bwill\b",
    re.IGNORECASE,
)
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
INJECTION = "Ada\r\nBcc: evil@example.com"


@pytest.fixture(scope="module")
def renderer() -> TemplateRenderer:
    return TemplateRenderer()


def visible(html: str) -> str:
    """Roughly what a reader sees in an HTML part: tags dropped, entities decoded."""
    return html_lib.unescape(" ".join(re.sub(r"<[^>]+>", " ", html).split()))


def strings_in(value: Any) -> list[str]:
    """Every string in a context (nested dicts and lists too), line by line, longest first."""
    found: list[str] = []
    if isinstance(value, str):
        found += [value, *value.splitlines()]
    elif isinstance(value, dict):
        for item in value.values():
            found += strings_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            found += strings_in(item)
    return sorted({s.strip() for s in found if s.strip()}, key=len, reverse=True)


def without_values(text: str, context: dict[str, Any]) -> str:
    """`text` with every context value cut out, so only the template's own wording is left."""
    for value in strings_in(context):
        text = text.replace(value, " ")
    return text


# -- completeness ---------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_every_kind_has_all_three_parts_in_every_locale(locale):
    folder = default_template_dir() / "emails" / locale
    missing = [f"{kind}.{part}" for kind in KINDS for part in PARTS if not (folder / f"{kind}.{part}").is_file()]
    assert missing == []
    assert (folder / "_macros.jinja").is_file()
    assert (folder / "_details.txt").is_file() and (folder / "_details.html").is_file()


def test_renderer_lists_the_four_locales_and_samples_cover_every_kind(renderer):
    assert set(LOCALES) <= set(renderer.locales())
    assert SAMPLE_KINDS == KINDS


def test_sample_context_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="unknown message kind 'nope'"):
        sample_context("nope")


# -- every kind in every locale -------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_in_its_own_locale(renderer, kind, locale):
    assert renderer.resolve_locale(kind, locale) == locale
    for context in (sample_context(kind), sample_context(kind, locale)):
        msg = renderer.render(kind, locale, context)
        assert msg.subject and "\n" not in msg.subject
        assert msg.text.strip() and msg.html.strip()
        assert f'<html lang="{locale}"' in msg.html
        for part in (msg.subject, msg.text, msg.html):
            assert "None" not in part and "Undefined" not in part
            assert "{{" not in part and "{%" not in part
        assert "Backend Engineer" in msg.text or "Ada Lovelace" in msg.text


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_with_an_empty_context(renderer, kind, locale):
    msg = renderer.render(kind, locale, {})
    assert msg.subject and msg.text.strip() and msg.html.strip()
    assert "None" not in msg.subject + msg.text + msg.html


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", CANDIDATE)
def test_candidate_mail_greets_in_the_readers_language(renderer, kind, locale):
    msg = renderer.render(kind, locale, sample_context(kind, locale))
    assert msg.text.startswith(GREETINGS[locale])
    assert GREETINGS[locale] in visible(msg.html)
    assert any(closing in msg.text for closing in CLOSINGS[locale])


@pytest.mark.parametrize("locale", LOCALES)
def test_promised_date_reaches_the_candidate_as_given(renderer, locale):
    context = sample_context("next_steps", locale)
    msg = renderer.render("next_steps", locale, context)
    assert context["due_date"] in msg.text and context["due_date"] in visible(msg.html)
    update = sample_context("status_update", locale)
    msg = renderer.render("status_update", locale, update)
    assert update["next_date"] in msg.text and update["next_date"] in visible(msg.html)


@pytest.mark.parametrize("locale", TRANSLATED)
@pytest.mark.parametrize("kind", KINDS)
def test_no_english_left_in_translated_mail(renderer, kind, locale):
    for context in (sample_context(kind, locale), {}):
        msg = renderer.render(kind, locale, context)
        for part in (msg.subject, msg.text, visible(msg.html)):
            leftover = ENGLISH_MARKERS.findall(without_values(part, context))
            assert leftover == [], part


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_missing_names_leave_no_holes(renderer, kind, locale):
    context = sample_context(kind, locale) | {
        "org": {"name": None, "sender_name": None},
        "candidate": {"name": None, "first_name": None},
        "job": {"title": None, "department": None},
        "application": {"stage": None, "external_id": None},
        "recipient_name": None, "interview_stage": None, "jobs": [],
    }
    msg = renderer.render(kind, locale, context)
    for part in (msg.subject, msg.text):
        assert "None" not in part
        assert not re.search(r" [,.)]|\( |  |«\s*»", part), part


# The thank-you sentence of next_steps, with the interview's stage and without it: each must read as
# a whole sentence (es once said "su tiempo del proceso para el puesto" when the stage was missing).
THANKS = {
    "en": ("Thank you for taking the time to speak with us at the Onsite stage for the Backend Engineer role at "
           "Acme.",
           "Thank you for taking the time to speak with us for the Backend Engineer role at Acme."),
    "es": ("Gracias por dedicarnos su tiempo en la entrevista de la fase «Onsite» para el puesto de Backend "
           "Engineer en Acme.",
           "Gracias por dedicarnos su tiempo en la entrevista para el puesto de Backend Engineer en Acme."),
    "de": ("vielen Dank, dass Sie sich die Zeit für das Gespräch (Onsite) zur Stelle als Backend Engineer bei "
           "Acme genommen haben.",
           "vielen Dank, dass Sie sich die Zeit für das Gespräch zur Stelle als Backend Engineer bei Acme "
           "genommen haben."),
    # French typography: non-breaking spaces inside « ».
    "fr": ("Merci d’avoir pris le temps d’échanger avec nous lors de l’étape «\u00a0Onsite\u00a0» pour le poste "
           "«\u00a0Backend Engineer\u00a0» chez Acme.",
           "Merci d’avoir pris le temps d’échanger avec nous pour le poste «\u00a0Backend Engineer\u00a0» chez Acme."),
}


@pytest.mark.parametrize("locale", LOCALES)
def test_next_steps_thanks_reads_whole_with_and_without_a_stage(renderer, locale):
    with_stage, without_stage = THANKS[locale]
    context = sample_context("next_steps", locale)
    staged = renderer.render("next_steps", locale, context)
    assert with_stage in staged.text and with_stage in visible(staged.html)
    unstaged = renderer.render("next_steps", locale, context | {
        "interview_stage": None, "application": {**context["application"], "stage": None}})
    assert without_stage in unstaged.text and without_stage in visible(unstaged.html)


# -- locale resolution ----------------------------------------------------------------------------


@pytest.mark.parametrize(("requested", "language"), [("de-AT", "de"), ("de_ch", "de"), ("fr-CA", "fr"), ("es-MX", "es")])
def test_regional_locale_uses_its_language(renderer, requested, language):
    assert renderer.resolve_locale("rejection", requested) == language
    context = sample_context("rejection", language)
    assert renderer.render("rejection", requested, context) == renderer.render("rejection", language, context)


def test_language_without_templates_falls_back_to_english_and_logs_it(renderer, caplog):
    context = sample_context("next_steps")
    with caplog.at_level(logging.INFO, logger="plugin.notify.render"):
        msg = renderer.render("next_steps", "pt-BR", context)
    assert msg == renderer.render("next_steps", "en", context)
    assert '<html lang="en"' in msg.html
    assert any("pt-BR" in rec.getMessage() and "'en'" in rec.getMessage() for rec in caplog.records)


# -- escaping and header injection ----------------------------------------------------------------


def hostile_context(kind: str, locale: str) -> dict[str, Any]:
    return sample_context(kind, locale) | {
        "candidate": {"name": SCRIPT, "first_name": SCRIPT},
        "job": {"title": IMG, "department": SCRIPT},
        "jobs": [IMG, f"Data {IMG}"],
        "application": {"stage": SCRIPT, "external_id": IMG},
        "interview_stage": SCRIPT,
        "recipient_name": SCRIPT,
        "note": f"{SCRIPT}\n{IMG}",
        "reason": SCRIPT,
        "error": IMG,
        "reply_from": f"{SCRIPT} <x@example.com>",
        "reply_subject": IMG,
        "reply_text": f"{SCRIPT}\n{IMG}",
    }


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_hostile_values_are_escaped_in_html(renderer, kind, locale):
    msg = renderer.render(kind, locale, hostile_context(kind, locale))
    lowered = msg.html.lower()
    assert "<script" not in lowered and "<img" not in lowered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in msg.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in msg.html
    assert SCRIPT in msg.text  # the text part shows values literally


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_newlines_in_names_never_reach_the_subject(renderer, kind, locale):
    context = sample_context(kind, locale) | {
        "candidate": {"name": INJECTION, "first_name": INJECTION},
        "job": {"title": "Engineer\r\nBcc: evil@example.com", "department": None},
        "jobs": ["Engineer\nBcc: evil@example.com"],
        "failed_kind": "x\r\nBcc: evil@example.com",
    }
    subject = renderer.render(kind, locale, context).subject
    assert "\r" not in subject and "\n" not in subject
    assert not re.search(r"[\x00-\x1f\x7f\u2028\u2029]", subject)


# -- status link ----------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", CANDIDATE)
def test_candidate_mail_links_to_the_status_page(renderer, kind, locale):
    context = sample_context(kind, locale)
    assert context["status_url"] == SAMPLE_STATUS_URL
    msg = renderer.render(kind, locale, context)
    assert SAMPLE_STATUS_URL in msg.text.splitlines()  # the bare URL on its own line
    link = re.search(rf'<a href="{re.escape(SAMPLE_STATUS_URL)}"[^>]*>([^<]+)</a>', msg.html)
    assert link is not None and link.group(1).strip()

    without = renderer.render(kind, locale, {k: v for k, v in context.items() if k != "status_url"})
    assert "/status/" not in without.text + without.html


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", INTERNAL)
def test_internal_mail_never_shows_a_status_link(renderer, kind, locale):
    assert "status_url" not in sample_context(kind, locale)
    msg = renderer.render(kind, locale, sample_context(kind, locale) | {"status_url": SAMPLE_STATUS_URL})
    assert "/status/" not in msg.text + msg.html


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,hi", " "])
def test_only_web_links_become_status_links(renderer, url):
    msg = renderer.render("rejection", "en", sample_context("rejection") | {"status_url": url})
    assert "javascript:" not in msg.html and "data:" not in msg.html
    assert "See where your application stands" not in msg.text


# -- signature ------------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_signature_replaces_the_default_sign_off(renderer, kind, locale):
    signature = "Grace Hopper\nHead of Talent, Acme & Co"
    context = sample_context(kind, locale)
    signed = renderer.render(kind, locale, context | {"signature": signature})
    assert signature in signed.text
    assert "Grace Hopper<br>\nHead of Talent, Acme &amp; Co" in signed.html
    own_wording = without_values(signed.text + signed.html, context)  # a quoted reply may sign off too
    assert not any(closing in own_wording for closing in CLOSINGS[locale])

    plain = renderer.render(kind, locale, context)
    assert "Head of Talent" not in plain.text + plain.html
    if kind in CANDIDATE:
        assert any(closing in plain.text for closing in CLOSINGS[locale])


def test_signature_is_escaped_in_html(renderer):
    msg = renderer.render("rejection", "de", sample_context("rejection", "de") | {"signature": SCRIPT})
    assert "<script" not in msg.html and "&lt;script&gt;" in msg.html


# -- values the templates translate themselves ----------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("en", "rejection"), ("de", "Absage"), ("fr", "la réponse négative"), ("es", "la comunicación de la decisión")],
)
def test_failed_message_is_named_in_the_readers_language(renderer, locale, expected):
    context = sample_context("delivery_failed", locale) | {"failed_kind": "rejection", "failed_kind_label": "rejection"}
    msg = renderer.render("delivery_failed", locale, context)
    assert expected in msg.subject and expected in msg.text


@pytest.mark.parametrize("locale", TRANSLATED)
def test_escalation_reason_code_is_translated_and_free_text_kept(renderer, locale):
    coded = renderer.render("escalation", locale, sample_context("escalation", locale))
    assert "Autopilot is off" not in coded.text
    free = sample_context("escalation", locale) | {"reason_code": None, "reason": "Call the agency first."}
    assert "Call the agency first." in renderer.render("escalation", locale, free).text


@pytest.mark.parametrize("locale", LOCALES)
def test_reply_forward_shows_the_reply_with_its_line_breaks(renderer, locale):
    context = sample_context("reply_forward", locale)
    msg = renderer.render("reply_forward", locale, context)
    first, second = context["reply_text"].splitlines()[:2]
    assert context["reply_text"] in msg.text
    assert f"{html_lib.escape(first)}<br>\n{html_lib.escape(second)}" in msg.html
    assert context["reply_from"] in msg.text and context["reply_received_at_text"] in msg.text


@pytest.mark.parametrize("locale", LOCALES)
def test_reply_ack_without_a_date_stays_neutral(renderer, locale):
    context = sample_context("reply_ack", locale)
    dated = renderer.render("reply_ack", locale, context)
    assert context["due_date"] in dated.text
    undated = renderer.render("reply_ack", locale, context | {"due_date": None})
    assert context["due_date"] not in undated.text
    assert len(undated.text) > 200


@pytest.mark.parametrize("locale", LOCALES)
def test_candidate_withdrew_says_when(renderer, locale):
    context = sample_context("candidate_withdrew", locale)
    msg = renderer.render("candidate_withdrew", locale, context)
    assert context["withdrawn_at_text"] in msg.text and context["withdrawn_at_text"] in visible(msg.html)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("failed_kind", ["reminder_recruiter", "escalation", "reply_forward"])
def test_a_colleagues_failed_message_names_the_address_in_the_readers_language(renderer, locale, failed_kind):
    """delivery_failed about internal mail (issue 13, item 14): the lead learns whose address failed."""
    context = sample_context("delivery_failed", locale) | {
        "failed_internal": True, "failed_kind": failed_kind, "failed_recipient": "Alan Turing <alan@acme.example>",
        "error": "SendGrid 400: invalid address"}
    msg = renderer.render("delivery_failed", locale, context)
    for part in (msg.subject, msg.text, visible(msg.html)):
        assert "alan@acme.example" in part
        if locale in TRANSLATED:
            assert ENGLISH_MARKERS.findall(without_values(part, context)) == [], part
    assert "SendGrid 400: invalid address" in msg.text
    plain = renderer.render("delivery_failed", locale, sample_context("delivery_failed", locale))
    assert "alan@acme.example" not in plain.text  # the candidate's case keeps its own wording
