"""One rendering for a thousand closing notices: shared content with SendGrid substitutions.

Rendering each notice costs about 3 ms (Jinja, then CSS inlining): 30 s for 10,000 candidates, more
than the whole hand-off may take. Notices whose contexts differ only in per-person values (name,
status-page link, the job's title, the application's reference, dates) are rendered once with a token
in place of each such value (`%%GL_NAME_T%%` in text, `%%GL_NAME_H%%` in HTML), and each notice's
content is that rendering with its own values put in: exactly what SendGrid makes of the request's
`substitutions`, and exactly what is stored as sent.

That content must also be what the template would have given the person rendered alone. It is when
the template only prints a value (or tests whether it is empty, or trims it) and the value comes out
of escaping and the renderer's clean-ups unchanged. So:
- a value is put in a token only if it is `plain`: no control or format characters, single spaces
  inside and none around, not long enough to cut a subject short; a notice with any other value
  among those its content shows is rendered alone;
- the first notice of every shared rendering, and a probe with awkward values (quotes, angle
  brackets, ampersands, accents), are also rendered alone and must match byte for byte, else every
  notice of that rendering is rendered alone (a template that upper-cases a name, compares a title,
  puts a name in an attribute, where HTML escapes it differently...);
- the shared rendering is keyed by everything else in the context the templates can read (their
  top-level names, found by parsing them and what they import), so two notices share it only if the
  template sees the same thing apart from the tokens.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, TemplateNotFound, meta

from plugin.mail.base import substitute
from plugin.notify.render import (
    _OVERRIDE_HTML,
    _PARTS,
    RENDER_NAMES,
    SUBJECT_MAX_CHARS,
    Override,
    RenderedMessage,
    TemplateError,
    TemplateRenderer,
)

Path_ = tuple[str | int, ...]
# (where in the template context, token name): the values that differ from one person to the next.
PERSONAL_FIELDS: tuple[tuple[Path_, str], ...] = (
    (("candidate", "name"), "name"),
    (("candidate", "first_name"), "first_name"),
    (("recipient_name",), "recipient_name"),
    (("status_url",), "status_url"),
    (("jobs", 0), "job_title"),  # a notice about one job (several jobs: a list the template loops over)
    (("job", "title"), "own_job_title"),  # the job of the notice's own application (a footer names it)
    (("application", "external_id"), "application_ref"),
    (("application", "stage"), "application_stage"),
    (("interview_stage",), "interview_stage"),
    (("due_date",), "due_date"),
    (("due_at_text",), "due_at_text"),
)
# A probe value per field, plain but awkward: every character HTML escapes differently in a text node
# and in an attribute, and accents. The probe's rendering proves that a value comes out of escaping
# as `html_text` says wherever the template puts it (a link's signed part stays URL-safe).
_AWKWARD = "Zoë \"O'Hara\" <&> Søn"
_PROBE = {"name": _AWKWARD, "first_name": "Zoë<&>", "recipient_name": _AWKWARD, "status_url": "probe.Token-_1",
          "job_title": "R&D <'Core'> \"Lead\"", "own_job_title": "R&D <'Core'> \"Lead\"", "application_ref": "A&B-<1>",
          "application_stage": _AWKWARD, "interview_stage": _AWKWARD, "due_date": "Monday, 23 <November>",
          "due_at_text": "Monday, 23 \"November\""}
_URL_SAFE = re.compile(r"[A-Za-z0-9._~-]+")


def token(name: str, part: str) -> str:
    # Letters, digits, '%' and '_': unchanged by HTML escaping, CSS inlining and header cleaning.
    return f"%%GL_{name.upper()}_{part}%%"


def plain(name: str, value: str) -> bool:
    """Printed, escaped and cleaned up, `value` reads the same in the text, the HTML and the subject:
    single spaces inside and none around (the renderer collapses and strips whitespace), no control or
    format characters, not long enough to cut a subject short."""
    if name == "status_url":
        return _URL_SAFE.fullmatch(value) is not None
    if value != value.strip() or "  " in value or len(value) > 120:
        return False
    return all(ch == " " or (not ch.isspace() and unicodedata.category(ch)[0] != "C") for ch in value)


def html_text(value: str) -> str:
    """A value as it appears in a text node of our HTML after CSS inlining, whose serializer escapes
    only &, < and > (and non-breaking spaces), not quotes; the probe checks that the template puts it
    nowhere else."""
    return (value.replace("&", "&amp;").replace("\u00a0", "&nbsp;")
            .replace("<", "&lt;").replace(">", "&gt;"))


@dataclass(frozen=True)
class Shared:
    """A rendering with tokens (text and subject from one, HTML from the other)."""

    subject: str
    text: str
    html: str

    def fill(self, substitutions: dict[str, str]) -> RenderedMessage:
        return RenderedMessage(substitute(self.subject, substitutions), substitute(self.text, substitutions),
                               substitute(self.html, substitutions))


@dataclass(frozen=True)
class Personal:
    """One notice's part of a shared rendering."""

    shared: Shared
    substitutions: dict[str, str]  # only the tokens its content shows

    @property
    def rendered(self) -> RenderedMessage:
        return self.shared.fill(self.substitutions)


class SharedRenderings:
    """The shared renderings of one batch of notices, and which of them were proven exact."""

    def __init__(self, renderer: TemplateRenderer) -> None:
        self.renderer = renderer
        self._shared: dict[str, Shared | None] = {}  # None: render each notice of it alone
        self._checked: set[str] = set()

    def personal(self, kind: str, locale: str, context: dict[str, Any], override: Override | None) -> Personal | None:
        """This notice's content as shared content plus substitutions, or None: render it alone."""
        values = {name: value for path, name in PERSONAL_FIELDS
                  if isinstance(value := _get(context, path), str) and value != ""}
        prefix = {name: _url_prefix(value) if name == "status_url" else "" for name, value in values.items()}
        values = {name: value[len(prefix[name]):] for name, value in values.items()}
        names = template_names(self.renderer, kind, locale, override)
        seen = _with_values(context, {name: "" for name in values})
        key = json.dumps([kind, locale, override and override.__dict__, sorted(values), prefix,
                          {k: v for k, v in seen.items() if names is None or k in names}], sort_keys=True, default=str)
        if key not in self._shared:
            self._shared[key] = self._render_shared(kind, locale, context, override, values, prefix)
        shared = self._shared[key]
        if shared is None:
            return None
        shown = {name for name in values if token(name, "T") in shared.subject + shared.text
                 or token(name, "H") in shared.html}
        if not all(plain(name, values[name]) for name in shown):
            return None
        substitutions = {token(name, "T"): values[name] for name in shown}
        substitutions.update({token(name, "H"): html_text(values[name]) for name in shown})
        personal = Personal(shared, substitutions)
        if len(personal.rendered.subject) >= SUBJECT_MAX_CHARS:
            return None  # the subject may have been cut short
        if key not in self._checked:  # the first notice of each shared rendering, rendered alone too
            self._checked.add(key)
            if self.renderer.render(kind, locale, context, override) != personal.rendered:
                self._shared[key] = None
                return None
        return personal

    def _render_shared(self, kind: str, locale: str, context: dict[str, Any], override: Override | None,
                       values: dict[str, str], prefix: dict[str, str]) -> Shared | None:
        try:
            as_text = self.renderer.render(kind, locale, _with_values(
                context, {name: prefix[name] + token(name, "T") for name in values}), override)
            as_html = self.renderer.render(kind, locale, _with_values(
                context, {name: prefix[name] + token(name, "H") for name in values}), override)
            shared = Shared(as_text.subject, as_text.text, as_html.html)
            if len(shared.subject) >= SUBJECT_MAX_CHARS:
                return None
            probe = {name: _PROBE[name] for name in values}
            expected = self.renderer.render(kind, locale, _with_values(
                context, {name: prefix[name] + value for name, value in probe.items()}), override)
        except TemplateError:
            return None  # rendered alone, where an override that fails falls back to the packaged wording
        filled = shared.fill({**{token(n, "T"): v for n, v in probe.items()},
                              **{token(n, "H"): html_text(v) for n, v in probe.items()}})
        return shared if filled == expected else None


def template_names(renderer: TemplateRenderer, kind: str, locale: str, override: Override | None) -> frozenset[str] | None:
    """Every top-level name the templates for `kind` could read (None: cannot tell, use them all)."""
    return _template_names(str(renderer.template_dir), kind, locale, override.subject if override else None,
                           override.body if override else None)


@lru_cache(maxsize=256)
def _template_names(template_dir: str, kind: str, locale: str, subject: str | None,
                    body: str | None) -> frozenset[str] | None:
    env = Environment(loader=FileSystemLoader(template_dir))
    base = f"emails/{locale}/{kind}"
    sources = [subject if subject else _source(env, f"{base}.{_PARTS['subject']}")]
    sources += [body, _OVERRIDE_HTML] if body else [_source(env, f"{base}.{_PARTS['text']}"),
                                                    _source(env, f"{base}.{_PARTS['html']}")]
    names: set[str] = set(RENDER_NAMES)
    seen: set[str] = set()
    while sources:
        source = sources.pop()
        if source is None:
            return None
        try:
            ast = env.parse(source)
        except Exception:
            return None  # the real rendering reports it
        names |= meta.find_undeclared_variables(ast)
        for ref in meta.find_referenced_templates(ast):
            if ref is None:
                return None  # a template name computed at render time
            if ref not in seen:
                seen.add(ref)
                sources.append(_source(env, ref))
    return frozenset(names)


def _source(env: Environment, name: str) -> str | None:
    try:
        assert env.loader is not None
        return env.loader.get_source(env, name)[0]
    except TemplateNotFound:
        return None


def _url_prefix(url: str) -> str:
    """Everything up to and including the last '/', e.g. "https://ghostless.example/status/": templates
    show a link only if it looks like one, so the token stands for the signed part alone."""
    return url[: url.rfind("/") + 1]


def _get(context: Any, path: Path_) -> Any:
    value = context
    for part in path:
        if isinstance(part, int):
            value = value[part] if isinstance(value, list) and len(value) == 1 else None
        else:
            value = value.get(part) if isinstance(value, dict) else None
    return value


def _with_values(context: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """A copy of `context` with the personal fields named in `values` set to those values (the
    containers on the way copied, the rest shared)."""
    copy = dict(context)
    for path, name in PERSONAL_FIELDS:
        if name not in values:
            continue
        target: Any = copy
        for part in path[:-1]:
            inner = target[part]
            target[part] = inner = list(inner) if isinstance(inner, list) else dict(inner)
            target = inner
        target[path[-1]] = values[name]
    return copy
