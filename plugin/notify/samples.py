"""A realistic context for every message kind, for template previews and override validation.

The preview API renders any kind in any locale with it, and an organisation's template override is
refused when it does not render with it, so it carries every variable some packaged template reads
(the same shape `compose.build_context` produces). Dates are fixed, ready-made strings like the real
ones: plain English by default, or in the language of `locale` when one is given.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from plugin.models import CANDIDATE_KINDS, NotificationKind
from plugin.notify import dates

SAMPLE_KINDS: tuple[str, ...] = tuple(kind.value for kind in NotificationKind)
SAMPLE_STATUS_URL = "https://ghostless.example/status/sample"

# A fixed week in November 2026, so a preview never depends on today's date.
_TODAY = date(2026, 11, 9)
_DUE_DAY = date(2026, 11, 16)
_NEXT_DAY = date(2026, 11, 23)
_ZONE = ZoneInfo("Europe/London")
_DUE_AT = datetime(2026, 11, 16, 17, 0, tzinfo=_ZONE)
_AUTOPILOT_AT = datetime(2026, 11, 16, 9, 0, tzinfo=_ZONE)
_REPLY_AT = datetime(2026, 11, 10, 14, 32, tzinfo=_ZONE)
_WITHDRAWN_AT = datetime(2026, 11, 11, 10, 5, tzinfo=_ZONE)

# Free text people write (a recruiter's note, a candidate's reply) in each packaged language, so a
# German preview does not look half translated. Keys: language -> (note, reply subject, reply text).
_FREE_TEXT: dict[str, tuple[str, str, str]] = {
    "en": ("Thank you again for your time on Tuesday.\nThe team really enjoyed meeting you.",
           "Re: An update on your application for Backend Engineer",
           "Hello Alan,\n\nThank you for the update. I have another offer and need to answer by Friday.\n"
           "Is there any news?\n\nBest,\nAda"),
    "de": ("Nochmals vielen Dank für Ihre Zeit am Dienstag.\nDas Team hat sich sehr über das Gespräch gefreut.",
           "Re: Zwischenstand zu Ihrer Bewerbung als Backend Engineer",
           "Hallo Herr Turing,\n\nvielen Dank für die Nachricht. Ich habe ein weiteres Angebot und muss mich "
           "bis Freitag entscheiden.\nGibt es schon Neuigkeiten?\n\nViele Grüße\nAda Lovelace"),
    "fr": ("Merci encore pour votre temps mardi.\nL'équipe a beaucoup apprécié cet échange.",
           "Re: Point d'étape sur votre candidature au poste « Backend Engineer »",
           "Bonjour,\n\nMerci pour ce point. J'ai reçu une autre offre et je dois répondre d'ici vendredi.\n"
           "Avez-vous du nouveau ?\n\nBien cordialement,\nAda Lovelace"),
    "es": ("Gracias de nuevo por su tiempo el martes.\nAl equipo le encantó conocerle.",
           "Re: Novedades sobre su candidatura al puesto de Backend Engineer",
           "Hola, Alan:\n\nGracias por la actualización. Tengo otra oferta y debo responder antes del viernes.\n"
           "¿Hay alguna novedad?\n\nUn saludo,\nAda Lovelace"),
}


def _free_text(locale: str | None) -> tuple[str, str, str]:
    language = (locale or "en").replace("_", "-").split("-")[0].lower()
    return _FREE_TEXT.get(language, _FREE_TEXT["en"])


def _common(locale: str | None) -> dict[str, Any]:
    return {
        "org": {"name": "Acme", "sender_name": "Alan Turing"},
        "candidate": {"name": "Ada Lovelace", "first_name": "Ada"},
        "job": {"title": "Backend Engineer", "department": "Engineering"},
        "application": {"stage": "Onsite", "external_id": "A-1042", "status": "active"},
        "recipient_name": "Grace Hopper",
        "interview_stage": "Onsite",
        "due_date": dates.human_date(_DUE_DAY, _TODAY, locale),
        "due_at_text": dates.human_instant(_DUE_AT, _ZONE, locale),
        "autopilot": True,
    }


def _for_kind(kind: NotificationKind, locale: str | None) -> dict[str, Any]:
    """The variables only some kinds read (compose adds them for those kinds alone)."""
    if kind is NotificationKind.STATUS_UPDATE:
        return {"next_date": dates.human_date(_NEXT_DAY, _TODAY, locale), "note": _free_text(locale)[0]}
    if kind in (NotificationKind.REMINDER_RECRUITER, NotificationKind.REMINDER_HIRING_MANAGER):
        return {"autopilot_at_text": dates.human_instant(_AUTOPILOT_AT, _ZONE, locale)}
    if kind is NotificationKind.JOB_CLOSED:
        return {"jobs": ["Backend Engineer"]}
    if kind is NotificationKind.ESCALATION:
        return {"reason": "Autopilot is off for this job and nobody has updated the candidate yet.",
                "reason_code": "autopilot_off"}
    if kind is NotificationKind.DELIVERY_FAILED:
        return {"failed_notification_id": 1041, "failed_kind": "status_update", "failed_kind_label": "status update",
                "error": "550 5.1.1 The email account that you tried to reach does not exist"}
    if kind is NotificationKind.REPLY_FORWARD:
        _, reply_subject, reply_text = _free_text(locale)
        return {
            "reply_from": "Ada Lovelace <ada.lovelace@example.com>",
            "reply_subject": reply_subject,
            "reply_received_at_text": dates.human_instant(_REPLY_AT, _ZONE, locale),
            "reply_text": reply_text,
            "reply_attachments": 1,
        }
    if kind is NotificationKind.CANDIDATE_WITHDREW:
        return {"withdrawn_at_text": dates.human_instant(_WITHDRAWN_AT, _ZONE, locale)}
    return {}


def sample_context(kind: str, locale: str | None = None) -> dict[str, Any]:
    """Everything a `kind` template may read, with sample values; ValueError for an unknown kind."""
    try:
        message_kind = NotificationKind(kind)
    except ValueError:
        raise ValueError(f"unknown message kind {kind!r}; expected one of {', '.join(SAMPLE_KINDS)}") from None
    context = _common(locale) | _for_kind(message_kind, locale)
    if message_kind in CANDIDATE_KINDS:
        context["status_url"] = SAMPLE_STATUS_URL
    return context
