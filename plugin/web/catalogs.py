"""gettext catalogs in plugin/translations/, one domain per face that shows words to people.

`messages` is the candidate status page (plugin.candidate.i18n), `dashboard` the dashboard
(plugin.dashboard.i18n). Each domain has its own `<domain>.pot`, extracted by `pybabel` with its own
mapping file, and its own `<language>/LC_MESSAGES/<domain>.po` per language, so a language can be
complete for one face and missing for the other (README, "Adding a language").

English is the source language of both: the msgids are the English wording, so English has no
catalog. The .po files are read as they are (Babel compiles each one in memory, once per process), so
neither a fresh clone nor an installed wheel needs a build step, and no compiled .mo file can fall
behind its .po.
"""

from __future__ import annotations

import io
from functools import cache
from gettext import NullTranslations
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import BinaryIO

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

DEFAULT_LANGUAGE = "en"


def catalog_dir() -> Traversable:
    """plugin/translations/, in the source tree or inside the installed package."""
    return files("plugin") / "translations"


def po_file(domain: str, language: str) -> Traversable:
    return catalog_dir() / language / "LC_MESSAGES" / f"{domain}.po"


def shipped_languages(domain: str) -> tuple[str, ...]:
    """English, then every language with a catalog in `domain`: a new .po file is all it needs."""
    shipped = sorted(
        folder.name for folder in catalog_dir().iterdir()
        if folder.is_dir() and po_file(domain, folder.name).is_file()
    )
    return (DEFAULT_LANGUAGE, *shipped)


def compile_po(po: BinaryIO, language: str, domain: str) -> Translations:
    """A .po file as gettext translations, compiled in memory."""
    catalog = read_po(po, locale=language, domain=domain)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # like msgfmt: fuzzy and empty entries are left out, so English shows
    compiled.seek(0)
    return Translations(compiled, domain=domain)


@cache
def translations(domain: str, language: str) -> NullTranslations:
    """`domain`'s catalog for `language`; English, and a language without a catalog, translate nothing."""
    if language == DEFAULT_LANGUAGE or not po_file(domain, language).is_file():
        return NullTranslations()
    with po_file(domain, language).open("rb") as po:
        return compile_po(po, language, domain)
