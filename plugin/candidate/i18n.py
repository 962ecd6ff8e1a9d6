"""The candidate status page's languages: gettext catalogs in plugin/translations/, read at run time.

English is the source language: the msgids in templates/status/ are the English page, so English has
no catalog. Every other language is `plugin/translations/<language>/LC_MESSAGES/messages.po`, made
with `pybabel` (README, "Adding a language"). Finding, reading and compiling a catalog is
plugin.web.catalogs, shared with the dashboard's own domain.
"""

from __future__ import annotations

from gettext import NullTranslations
from importlib.resources.abc import Traversable
from typing import BinaryIO, Callable, Iterable

from babel.support import Translations

from plugin.web import catalogs

DEFAULT_LANGUAGE = catalogs.DEFAULT_LANGUAGE
DOMAIN = "messages"


def po_file(language: str) -> Traversable:
    return catalogs.po_file(DOMAIN, language)


LANGUAGES: tuple[str, ...] = catalogs.shipped_languages(DOMAIN)


def base_language(locale: str | None) -> str | None:
    """`de-AT` / `de_at` -> `de` when we have the page in that language; None otherwise."""
    if not locale:
        return None
    base = locale.strip().replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None


def pick_language(candidate_locale: str | None, accepted: Iterable[str]) -> str:
    """The candidate's own language first, then the browser's preferences in order, then English."""
    for locale in (candidate_locale, *accepted):
        language = base_language(locale)
        if language is not None:
            return language
    return DEFAULT_LANGUAGE


def compile_po(po: BinaryIO, language: str) -> Translations:
    """A .po file as gettext translations, compiled in memory."""
    return catalogs.compile_po(po, language, DOMAIN)


def translations(language: str) -> NullTranslations:
    """The catalog for `language`; English (and any language we do not ship) translates nothing."""
    if language not in LANGUAGES:
        return NullTranslations()
    return catalogs.translations(DOMAIN, language)


def translator(language: str) -> Callable[..., str]:
    """`_("Hello %(name)s,", name=x)`: the English msgid in `language` (English when untranslated).

    The result is plain text, never Markup, so the template escapes all of it, the values and the
    translation alike: neither a job title nor a catalog can put markup on the page. Values are
    filled in only when given, so a msgid without placeholders may contain a bare "%".
    """
    gettext = translations(language).gettext

    def _(msgid: str, **values: object) -> str:
        text = gettext(msgid)
        return text % values if values else text

    return _
