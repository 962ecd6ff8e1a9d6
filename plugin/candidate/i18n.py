"""The candidate status page's languages: gettext catalogs in plugin/translations/, read at run time.

English is the source language: the msgids in templates/status/ are the English page, so English has
no catalog. Every other language is `plugin/translations/<language>/LC_MESSAGES/messages.po`, made
with `pybabel` (README, "Adding a language"). The .po files are read as they are (Babel compiles
each one in memory, once per process), so neither a fresh clone nor an installed wheel needs a build
step, and there is no compiled .mo file that could fall behind its .po.
"""

from __future__ import annotations

import io
from functools import cache
from gettext import NullTranslations
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import BinaryIO, Callable, Iterable

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

DEFAULT_LANGUAGE = "en"
DOMAIN = "messages"


def catalog_dir() -> Traversable:
    """plugin/translations/, in the source tree or inside the installed package."""
    return files("plugin") / "translations"


def po_file(language: str) -> Traversable:
    return catalog_dir() / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def _shipped_languages() -> tuple[str, ...]:
    """English, then every language with a catalog: a new .po file is all a new language needs."""
    shipped = sorted(
        folder.name for folder in catalog_dir().iterdir()
        if folder.is_dir() and po_file(folder.name).is_file()
    )
    return (DEFAULT_LANGUAGE, *shipped)


LANGUAGES: tuple[str, ...] = _shipped_languages()


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
    catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # like msgfmt: fuzzy and empty entries are left out, so English shows
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


@cache
def translations(language: str) -> NullTranslations:
    """The catalog for `language`; English (and any language we do not ship) translates nothing."""
    if language == DEFAULT_LANGUAGE or language not in LANGUAGES:
        return NullTranslations()
    with po_file(language).open("rb") as po:
        return compile_po(po, language)


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
