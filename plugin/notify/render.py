"""Render Ghostless emails (subject, plain text, HTML) from Jinja templates.

Templates live in ``<template_dir>/emails/<locale>/<kind>.{subject.txt,txt,html}``; HTML templates
extend the shared ``emails/_layout.html``. Files and folders whose names start with ``_`` are partials
(macros, layouts), never kinds or locales.

Two environments are used: HTML with autoescaping on, text and subject with it off. Both are sandboxed
and bounded (organisation admins write overrides: `template_sandbox` limits the size of anything a
template builds, its loops, its output and its time) and lenient about optional values: a missing
key or attribute renders as empty (``ChainableUndefined``) and ``None`` renders as empty too.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import css_inline
from jinja2 import ChainableUndefined, FileSystemLoader, Template, TemplateSyntaxError, meta
from markupsafe import Markup, escape

from plugin.models import NotificationKind
from plugin.notify.template_sandbox import BoundedSandbox, LimitExceeded, render_bounded

log = logging.getLogger(__name__)

# Every message kind (the models' enum is the one list).
KINDS: tuple[str, ...] = tuple(kind.value for kind in NotificationKind)

SUBJECT_MAX_CHARS = 200

_PARTS = {"subject": "subject.txt", "text": "txt", "html": "html"}
_KIND_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")
_RTL_LANGUAGES = frozenset({"ar", "dv", "fa", "he", "ps", "ur", "yi"})


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


class TemplateError(ValueError):
    """Unknown kind, missing template, or a template that failed to render."""


class TemplateLimitError(TemplateError):
    """A template went past one of the rendering limits (`template_sandbox`); `part` is the template
    that did (an override's `subject` or `body`, or a packaged part: `text`, `html`)."""

    def __init__(self, part: str, limit: str) -> None:
        super().__init__(f"The {part} template goes past a rendering limit: {limit}.")
        self.part, self.limit = part, limit


@dataclass(frozen=True)
class Override:
    """An organisation's own wording for one kind and locale (`TemplateOverride`); None: packaged.

    `body` is plain text (Jinja, same variables as the packaged template); the HTML part is built
    from it inside the shared layout, so an admin never writes HTML and cannot break the layout.
    """

    subject: str | None = None
    body: str | None = None
    signature: str | None = None


# Every candidate email carries the status-page link; an override body that leaves it out gets
# this line appended (in the message's language).
STATUS_LINK_LINE = {
    "en": "See where your application stands:",
    "de": "Hier sehen Sie jederzeit, wo Ihre Bewerbung steht:",
    "fr": "Suivez l'avancement de votre candidature :",
    "es": "Consulte en todo momento el estado de su candidatura:",
}
# Names every template may use on top of the message's context.
RENDER_NAMES = frozenset({"lang", "text_dir", "subject", "status_url", "signature"})
_OVERRIDE_HTML = (
    '{% extends "emails/_layout.html" %}{% block content %}{{ override_html }}{% endblock %}'
)
_URL = re.compile(r"https?://[^\s<>\"']+")
# Inline <style> rules into style attributes (Gmail and Outlook drop or ignore <style>); media
# queries stay in a <style> block for the clients that honour them. Never fetch remote CSS.
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def _text_to_html(text: str) -> Markup:
    """Plain text -> escaped HTML paragraphs, line breaks kept, URLs as links."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    out = []
    for paragraph in paragraphs:
        lines = []
        for line in paragraph.split("\n"):
            escaped = str(escape(line))
            lines.append(_URL.sub(lambda m: f'<a href="{m.group(0)}" style="color:#1d4ed8;">{m.group(0)}</a>',
                                  escaped))
        out.append('<p style="margin:0 0 16px 0;">' + "<br>\n".join(lines) + "</p>")
    return Markup("\n".join(out))


def default_template_dir() -> Path:
    """The packaged templates (installed wheel) or the checkout's ``templates/`` folder."""
    package_dir = Path(__file__).resolve().parent.parent  # .../plugin
    candidates = (package_dir / "templates", package_dir.parent / "templates")
    for candidate in candidates:
        if (candidate / "emails").is_dir():
            return candidate
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return candidates[0]


def normalize_locale(locale: str) -> str:
    """``de_at`` -> ``de-AT``, ``zh-hant-tw`` -> ``zh-Hant-TW``."""
    parts = locale.strip().replace("_", "-").split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            out.append(part.title())
        elif len(part) == 2 and part.isalpha():
            out.append(part.upper())
        else:
            out.append(part.lower())
    return "-".join(out)


def locale_chain(locale: str | None, default_locale: str) -> list[str]:
    """Locales to try, most specific first: ``de-AT`` -> ``de-AT``, ``de``, default."""
    chain: list[str] = []
    if locale and _LOCALE_RE.match(locale.strip()):
        parts = normalize_locale(locale).split("-")
        chain = ["-".join(parts[:i]) for i in range(len(parts), 0, -1)]
    default = normalize_locale(default_locale)
    if default not in chain:
        chain.append(default)
    return chain


def clean_subject(value: str) -> str:
    """One line: control/line-separator characters become spaces, runs of whitespace collapse."""
    chars = [
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
        for ch in value
    ]
    subject = " ".join("".join(chars).split())
    if len(subject) > SUBJECT_MAX_CHARS:
        subject = subject[: SUBJECT_MAX_CHARS - 1].rstrip() + "\u2026"
    return subject


def _clean_text(value: str) -> str:
    lines = [line.rstrip() for line in value.replace("\r\n", "\n").split("\n")]
    text = "\n".join(lines).strip("\n")
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text + "\n"


def _clean_html(value: str) -> str:
    lines = [line.rstrip() for line in value.replace("\r\n", "\n").split("\n")]
    return "\n".join(line for line in lines if line).strip() + "\n"


def _finalize(value: Any) -> Any:
    return "" if value is None else value


def _nl2br(value: Any) -> Markup:
    """Escape, then keep the author's line breaks (for free text such as a recruiter's note)."""
    text = "" if value is None else str(value)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").strip("\n").split("\n")
    return Markup("<br>\n").join(escape(line) for line in lines)


def _render_part(template: Template, context: Mapping[str, Any], part: str) -> str:
    try:
        return render_bounded(template, context)
    except LimitExceeded as exc:
        raise TemplateLimitError(part, exc.limit) from exc


class TemplateRenderer:
    def __init__(self, template_dir: Path | None = None, default_locale: str = "en") -> None:
        self.template_dir = Path(template_dir) if template_dir is not None else default_template_dir()
        self.default_locale = normalize_locale(default_locale)
        loader = FileSystemLoader(str(self.template_dir))
        common: dict[str, Any] = dict(
            loader=loader,
            undefined=ChainableUndefined,
            finalize=_finalize,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self._html_env = BoundedSandbox(autoescape=True, **common)
        self._text_env = BoundedSandbox(autoescape=False, **common)
        self._html_env.add_filter("nl2br", _nl2br)
        self._text_env.add_filter("nl2br", lambda value: "" if value is None else str(value))

    # -- lookup ---------------------------------------------------------------------------------

    @property
    def _emails_dir(self) -> Path:
        return self.template_dir / "emails"

    def _has_kind(self, locale: str, kind: str) -> bool:
        folder = self._emails_dir / locale
        return all((folder / f"{kind}.{suffix}").is_file() for suffix in _PARTS.values())

    def locales(self) -> list[str]:
        """Locales that have at least one complete template."""
        if not self._emails_dir.is_dir():
            return []
        found = []
        for folder in self._emails_dir.iterdir():
            if not folder.is_dir() or folder.name.startswith(("_", ".")):
                continue
            if any(
                not f.name.startswith("_") and f.name.endswith(".subject.txt")
                for f in folder.iterdir()
            ):
                found.append(folder.name)
        return sorted(found)

    def resolve_locale(self, kind: str, locale: str | None) -> str:
        """The locale whose templates will be used for ``kind``; TemplateError if none."""
        if not isinstance(kind, str) or not _KIND_RE.match(kind):
            raise TemplateError(f"unknown message kind {kind!r} (locale {locale!r})")
        chain = locale_chain(locale, self.default_locale)
        for candidate in chain:
            if self._has_kind(candidate, kind):
                if locale and candidate != normalize_locale(locale):
                    log.info(
                        "no %r email templates for locale %r; falling back to %r",
                        kind, locale, candidate,
                    )
                return candidate
        raise TemplateError(
            f"unknown message kind {kind!r}: no templates for locale {locale!r} "
            f"(tried {', '.join(chain)}) in {self._emails_dir}"
        )

    # -- rendering ------------------------------------------------------------------------------

    def render(self, kind: str, locale: str | None, context: Mapping[str, Any],
               override: Override | None = None) -> RenderedMessage:
        resolved = self.resolve_locale(kind, locale)
        base = f"emails/{resolved}/{kind}"
        ctx = dict(context)
        ctx["lang"] = resolved
        ctx["text_dir"] = "rtl" if resolved.split("-")[0] in _RTL_LANGUAGES else "ltr"
        if override is not None and override.signature:
            ctx["signature"] = override.signature
        try:
            if override is not None and override.subject:
                subject_template = self._text_env.from_string(override.subject)
            else:
                subject_template = self._text_env.get_template(f"{base}.{_PARTS['subject']}")
            subject = clean_subject(_render_part(subject_template, ctx, "subject"))
            ctx["subject"] = subject
            if override is not None and override.body:
                text, html = self._render_override_body(override, resolved, ctx)
            else:
                text = _clean_text(_render_part(self._text_env.get_template(f"{base}.{_PARTS['text']}"), ctx, "text"))
                html = _render_part(self._html_env.get_template(f"{base}.{_PARTS['html']}"), ctx, "html")
            html = _clean_html(_INLINER.inline(html))
        except TemplateError:
            raise
        except Exception as exc:  # syntax errors, missing layout, errors raised inside templates
            raise TemplateError(
                f"email template {kind!r} (locale {resolved!r}) failed to render: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return RenderedMessage(subject=subject, text=text, html=html)

    def _render_override_body(self, override: Override, locale: str, ctx: dict[str, Any]) -> tuple[str, str]:
        assert override.body is not None
        text = _render_part(self._text_env.from_string(override.body), ctx, "body").strip()
        if override.signature and "signature" not in override.body:
            text += "\n\n" + override.signature.strip()
        status_url = ctx.get("status_url")
        if status_url and status_url not in text:
            line = STATUS_LINK_LINE.get(locale.split("-")[0], STATUS_LINK_LINE["en"])
            text += f"\n\n{line}\n{status_url}"
        text = _clean_text(text)
        html = _render_part(self._html_env.from_string(_OVERRIDE_HTML), {**ctx, "override_html": _text_to_html(text)},
                            "html")
        return text, html

    def unknown_names(self, source: str, known: frozenset[str] | set[str]) -> list[str]:
        """Top-level variables a template uses that its context does not provide (typos such as
        `{{ candiate.name }}` would otherwise render as empty text). TemplateError on bad syntax."""
        try:
            used = meta.find_undeclared_variables(self._text_env.parse(source))
        except TemplateSyntaxError as exc:
            raise TemplateError(f"line {exc.lineno}: {exc.message}") from exc
        return sorted(used - set(known) - RENDER_NAMES - set(self._text_env.globals))
