"""Message templates: each organisation's own wording per kind and locale, and previews.

- `GET /api/v1/templates`: every kind, the locales it ships in, and this organisation's overrides.
- `GET|PUT|DELETE /api/v1/templates/<kind>/overrides/<locale>`: subject, body, sender name, reply-to
  and signature. A PUT is rendered with sample data before it is saved: a template that does not
  render, or uses a variable that does not exist, is refused with the error and nothing changes.
- `GET /api/v1/templates/<kind>/preview?locale=de`: the message as a candidate would get it, with
  sample data and this organisation's overrides (`format=html` returns the HTML part itself).
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy import select

from plugin.api.common import current_org, db_session, now
from plugin.audit import audit
from plugin.events.fields import Locale
from plugin.mail.base import clean_header_text
from plugin.models import NotificationKind, Organization, TemplateOverride
from plugin.notify.compose import DEFAULT_SENDER_EMAIL
from plugin.notify.render import (
    Override,
    TemplateError,
    TemplateLimitError,
    TemplateRenderer,
    normalize_locale,
)
from plugin.notify.samples import sample_context

blp = Blueprint("templates", __name__, url_prefix="/api/v1",
                description="Message templates: per-organisation overrides and previews")

TEMPLATE_MAX = 20_000
OVERRIDE_FIELDS = ("subject", "body", "sender_name", "reply_to", "signature")


class OverridePutSchema(Schema):
    class Meta:
        unknown = RAISE

    subject = fields.String(allow_none=True, validate=validate.Length(min=1, max=500),
                            metadata={"description": "Jinja; the same variables as the packaged template"})
    body = fields.String(allow_none=True, validate=validate.Length(min=1, max=TEMPLATE_MAX),
                         metadata={"description": "Jinja plain text; the HTML part is built from it"})
    sender_name = fields.String(allow_none=True, validate=validate.Length(min=1, max=200))
    reply_to = fields.Email(allow_none=True)
    signature = fields.String(allow_none=True, validate=validate.Length(min=1, max=2000))


class OverrideSchema(Schema):
    kind = fields.Function(lambda o: o.kind.value)
    locale = fields.String()
    subject = fields.String(allow_none=True)
    body = fields.String(allow_none=True)
    sender_name = fields.String(allow_none=True)
    reply_to = fields.String(allow_none=True)
    signature = fields.String(allow_none=True)
    updated_at = fields.DateTime()
    updated_by = fields.String()


class PreviewQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    locale = Locale(load_default="en")
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "html", "text"]))


class PreviewSchema(Schema):
    kind = fields.String()
    locale = fields.String(metadata={"description": "the locale asked for"})
    rendered_locale = fields.String(metadata={"description": "the templates used (after fallback)"})
    fallback = fields.Boolean(metadata={"description": "true when no templates exist for `locale`"})
    overridden = fields.List(fields.String(), metadata={"description": "fields this organisation overrides"})
    sender = fields.String()
    reply_to = fields.String(allow_none=True)
    subject = fields.String()
    text = fields.String()
    html = fields.String()


def _renderer() -> TemplateRenderer:
    return current_app.extensions["ghostless"].renderer  # type: ignore[no-any-return]


def _kind(value: str) -> NotificationKind:
    try:
        return NotificationKind(value)
    except ValueError:
        abort(404, message=f"Unknown message kind {value!r}; kinds are: {', '.join(k.value for k in NotificationKind)}.")
    raise AssertionError("unreachable")


def _locale(value: str) -> str:
    try:
        return Locale().deserialize(value)  # type: ignore[no-any-return]
    except Exception:
        abort(422, message=f"{value!r} is not a locale (expected e.g. 'en', 'de' or 'de-AT').")
    raise AssertionError("unreachable")


def _sample(org: Organization, kind: NotificationKind, locale: str) -> dict[str, Any]:
    """Sample data, with this organisation's own name and sender so the preview looks like theirs."""
    context = sample_context(kind.value, locale)
    context["org"] = {**context.get("org", {}), "name": org.name, "sender_name": org.sender_name or org.name}
    context.setdefault("lang", locale)
    return context


def _find(session: Any, org_id: str, kind: NotificationKind, locale: str) -> TemplateOverride | None:
    return session.scalar(select(TemplateOverride).where(
        TemplateOverride.org_id == org_id, TemplateOverride.kind == kind, TemplateOverride.locale == locale))


def _field(exc: TemplateLimitError) -> str:
    """The override field a limit error comes from: the HTML part is built from the body."""
    return "subject" if exc.part == "subject" else "body"


def check_override(renderer: TemplateRenderer, kind: NotificationKind, locale: str, override: Override,
                   context: dict[str, Any]) -> None:
    """Refuse (422) a subject or body that uses unknown variables or does not render."""
    for field, source in (("subject", override.subject), ("body", override.body)):
        if not source:
            continue
        try:
            unknown = renderer.unknown_names(source, set(context))
        except TemplateError as exc:
            abort(422, message=f"The {field} template has a syntax error; nothing was changed.",
                  errors={"json": {field: [str(exc)]}})
        if unknown:
            abort(422, message=f"The {field} template uses unknown variables; nothing was changed.",
                  errors={"json": {field: [
                      f"Unknown variable(s): {', '.join(unknown)}. Available: {', '.join(sorted(context))}."]}})
    try:
        rendered = renderer.render(kind.value, locale, context, override)
    except TemplateLimitError as exc:
        field = _field(exc)
        abort(422, message=f"The {field} template goes past a rendering limit ({exc.limit}); nothing was changed.",
              errors={"json": {field: [str(exc)]}})
    except TemplateError as exc:
        abort(422, message="The template does not render; nothing was changed.", errors={"json": {"body": [str(exc)]}})
    if not rendered.subject.strip():
        abort(422, message="The subject renders empty; nothing was changed.",
              errors={"json": {"subject": ["The subject must not render empty."]}})


@blp.route("/templates")
class TemplateList(MethodView):
    @blp.response(200)
    def get(self) -> dict[str, Any]:
        session = db_session()
        org = current_org(session)
        renderer = _renderer()
        overrides = session.scalars(select(TemplateOverride).where(TemplateOverride.org_id == org.id)).all()
        mine: dict[str, list[str]] = {}
        for row in overrides:
            mine.setdefault(row.kind.value, []).append(row.locale)
        locales = renderer.locales()
        return {
            "default_locale": renderer.default_locale,
            "kinds": [
                {"kind": kind.value, "candidate_facing": kind.is_candidate_facing,
                 "locales": [loc for loc in locales if renderer.resolve_locale(kind.value, loc) == loc],
                 "overrides": sorted(mine.get(kind.value, []))}
                for kind in NotificationKind
            ],
        }


@blp.route("/templates/<kind>/overrides/<locale>")
class TemplateOverrideResource(MethodView):
    @blp.response(200, OverrideSchema)
    def get(self, kind: str, locale: str) -> TemplateOverride:
        session = db_session()
        org = current_org(session)
        row = _find(session, org.id, _kind(kind), normalize_locale(_locale(locale)))
        if row is None:
            abort(404, message=f"No override for {kind} in {locale}; the packaged template is used.")
        return row

    @blp.arguments(OverridePutSchema)
    @blp.response(200, OverrideSchema)
    def put(self, changes: dict[str, Any], kind: str, locale: str) -> TemplateOverride:
        session = db_session()
        org = current_org(session)
        message_kind, tag = _kind(kind), _locale(locale)
        renderer = _renderer()
        if renderer.resolve_locale(message_kind.value, tag) != tag:
            abort(422, message=f"There are no {kind} templates in {tag!r}; overrides exist for shipped locales "
                               f"({', '.join(renderer.locales())}).")
        if not any(changes.get(field) for field in OVERRIDE_FIELDS):
            abort(422, message=f"Send at least one of {', '.join(OVERRIDE_FIELDS)} (DELETE removes the override).")
        if changes.get("sender_name"):
            changes["sender_name"] = clean_header_text(changes["sender_name"])
        override = Override(subject=changes.get("subject"), body=changes.get("body"),
                            signature=changes.get("signature"))
        check_override(renderer, message_kind, tag, override, _sample(org, message_kind, tag))
        row = _find(session, org.id, message_kind, tag)
        before = OverrideSchema().dump(row) if row is not None else None
        if row is None:
            row = TemplateOverride(org_id=org.id, kind=message_kind, locale=tag)
            session.add(row)
        for field in OVERRIDE_FIELDS:  # a PUT replaces the whole override
            setattr(row, field, changes.get(field))
        row.updated_at, row.updated_by = now(), g.actor
        session.flush()
        audit(session, org.id, "template_override", f"{message_kind.value}/{tag}", "updated", row.updated_at,
              g.actor, before=before, after=OverrideSchema().dump(row))
        session.commit()
        return row

    @blp.response(204)
    def delete(self, kind: str, locale: str) -> None:
        session = db_session()
        org = current_org(session)
        message_kind, tag = _kind(kind), _locale(locale)
        row = _find(session, org.id, message_kind, tag)
        if row is None:
            abort(404, message=f"No override for {kind} in {tag}.")
        audit(session, org.id, "template_override", f"{message_kind.value}/{tag}", "deleted", now(), g.actor,
              before=OverrideSchema().dump(row))
        session.delete(row)
        session.commit()


@blp.route("/templates/<kind>/preview")
class TemplatePreview(MethodView):
    @blp.arguments(PreviewQuerySchema, location="query")
    # `format=html` and `format=text` answer the message itself, not JSON: documented, so the document
    # and the answer agree (a client generated from it expects exactly these types).
    @blp.doc(summary="Preview a message", responses={"200": {
        "description": "JSON by default; with `format=html` the HTML part itself, with `format=text` the text part.",
        "content": {"application/json": {"schema": PreviewSchema},
                    "text/html": {"schema": {"type": "string"}},
                    "text/plain": {"schema": {"type": "string"}}}}})
    @blp.response(200, PreviewSchema)
    def get(self, query: dict[str, Any], kind: str) -> Any:
        session = db_session()
        org = current_org(session)
        message_kind = _kind(kind)
        renderer = _renderer()
        requested = query["locale"]
        resolved = renderer.resolve_locale(message_kind.value, requested)
        row = _find(session, org.id, message_kind, resolved)
        override = Override(subject=row.subject, body=row.body, signature=row.signature) if row else None
        try:
            rendered = renderer.render(message_kind.value, resolved, _sample(org, message_kind, resolved), override)
        except TemplateLimitError as exc:
            abort(422, message=f"This template goes past a rendering limit: {exc}",
                  errors={"json": {_field(exc): [str(exc)]}})
        except TemplateError as exc:
            abort(422, message=f"This template does not render: {exc}")
        if query["format"] == "html":
            return Response(rendered.html, mimetype="text/html")
        if query["format"] == "text":
            return Response(rendered.text, mimetype="text/plain")
        sender_name = (row.sender_name if row and row.sender_name else None) or org.sender_name or org.name
        return {
            "kind": message_kind.value, "locale": requested, "rendered_locale": resolved,
            "fallback": resolved != requested,
            "overridden": [f for f in OVERRIDE_FIELDS if row is not None and getattr(row, f)],
            "sender": f"{sender_name} <{org.sender_email or DEFAULT_SENDER_EMAIL}>",
            "reply_to": row.reply_to if row else None,
            "subject": rendered.subject, "text": rendered.text, "html": rendered.html,
        }
