"""The status page's gettext catalogs (plugin/translations/): complete, in step with the code, loaded.

The English msgids are in templates/status/ (babel.cfg says where to look); each shipped language is
a .po file next to the extracted messages.pot. README, "Adding a language", has the commands.
"""

from __future__ import annotations

import html
import io
import re
from datetime import date
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from flask import Flask

from plugin.candidate import i18n
from plugin.candidate.status_page import Shown, Stage, StatusView, bp

ROOT = Path(__file__).resolve().parents[2]
POT = ROOT / "plugin" / "translations" / "messages.pot"
SHIPPED = [language for language in i18n.LANGUAGES if language != i18n.DEFAULT_LANGUAGE]
PLACEHOLDER = re.compile(r"%\((\w+)\)[a-z]")
EXTRACT = "pybabel extract -F babel.cfg -o plugin/translations/messages.pot ."
UPDATE = "run `pybabel update` (README, Adding a language)"


def read(path: Path, language: str | None = None) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, locale=language)


def msgids(catalog: Catalog) -> set[str]:
    return {message.id for message in catalog if message.id}


def po(language: str) -> Catalog:
    return read(ROOT / "plugin" / "translations" / language / "LC_MESSAGES" / "messages.po", language)


def test_the_languages_are_the_catalogs_found_next_to_the_code():
    # An install that lost plugin/translations/ would quietly be English-only.
    assert i18n.LANGUAGES[0] == "en" and {"de", "es", "fr"} <= set(i18n.LANGUAGES)


@pytest.mark.parametrize("language", SHIPPED)
def test_every_message_has_a_finished_translation(language):
    catalog = po(language)
    assert not catalog.fuzzy, f"{language}: the header is marked fuzzy"
    assert msgids(catalog) == msgids(read(POT)), f"{language}: {UPDATE}"
    unfinished = [message.id for message in catalog if message.id and (not message.string or message.fuzzy)]
    assert unfinished == [], f"{language}: empty or fuzzy"
    assert list(catalog.obsolete) == [], f"{language}: {UPDATE} with --ignore-obsolete"


@pytest.mark.parametrize("language", SHIPPED)
def test_each_translation_has_the_placeholders_of_its_msgid(language):
    for message in po(language):
        if not message.id:
            continue
        names = sorted(PLACEHOLDER.findall(message.id))
        assert sorted(PLACEHOLDER.findall(message.string)) == names, (language, message.id)
        if names:  # and nothing else that `%` would trip over
            message.string % dict.fromkeys(names, "x")


def test_the_template_of_messages_is_up_to_date_with_the_code(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    fresh = tmp_path / "messages.pot"
    CommandLineInterface().run(["pybabel", "--quiet", "extract", "-F", "babel.cfg", "-o", str(fresh), "."])
    assert msgids(read(fresh)) == msgids(read(POT)), f"run `{EXTRACT}`, then {UPDATE}"


# -- loading -------------------------------------------------------------------------------------

def test_translations_are_plain_text_with_the_values_filled_in():
    german = i18n.translator("de")
    assert german("Hello %(name)s,", name="<b>Ada</b>") == "Hallo <b>Ada</b>,"
    assert type(german("Sent by Ghostless.")) is str  # not Markup: the template escapes all of it
    assert i18n.translator("en")("Your application at %(org)s", org="Acme") == "Your application at Acme"
    assert i18n.translator("xx")("Hello,") == "Hello,"


def test_a_fuzzy_or_empty_translation_shows_the_english():
    source = (
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "Offer"\nmsgstr "Angebot"\n\n'
        '#, fuzzy\nmsgid "In review"\nmsgstr "Vielleicht"\n\n'
        'msgid "Withdrawn"\nmsgstr ""\n'
    )
    gettext = i18n.compile_po(io.BytesIO(source.encode()), "de").gettext
    shown = [gettext("Offer"), gettext("In review"), gettext("Withdrawn")]
    assert shown == ["Angebot", "In review", "Withdrawn"]


# -- every message reaches the page --------------------------------------------------------------

VALUES = {"org": "Acme", "name": "Ada", "job": "Engineer", "date": "9 November"}


def view(state: Shown, *, named: bool = True, next_date: date | None = None,
         passed: bool = False) -> StatusView:
    return StatusView(
        state=state, org_name=VALUES["org"], job_title=VALUES["job"] if named else None,
        candidate_name=VALUES["name"] if named else None,
        stages=[Stage(None, date(2026, 11, 2), "2 November")], next_date=next_date,
        next_date_text="Monday 9 November" if next_date else None, next_date_passed=passed,
        withdrawn_on_text=VALUES["date"],
    )


def every_page(language: str) -> str:
    """The text of every page and state the templates can show, in `language`."""
    # The app's own Jinja settings (autoescaping by file name), without a database behind it.
    env = Flask(__name__, template_folder=bp.template_folder).jinja_env
    common = {"lang": language, "_": i18n.translator(language), "org_name": VALUES["org"], "csp_nonce": "n"}
    due = date(2026, 11, 9)
    in_review = [view(Shown.IN_REVIEW, next_date=due), view(Shown.IN_REVIEW, next_date=due, passed=True),
                 view(Shown.IN_REVIEW, named=False)]
    status, withdraw, message = (env.get_template(f"status/{name}.html")
                                 for name in ("page", "withdraw", "message"))
    pages = [status.render(view=v, withdraw_url="/w", **common) for v in [*in_review, *map(view, Shown)]]
    pages += [withdraw.render(view=v, csrf_token="c", status_url="/s", action_url="/a", **common)
              for v in in_review[1:]]  # with a job title and without
    pages += [message.render(kind=kind, back_url="/b", **common)
              for kind in ("invalid", "expired", "gone", "csrf", "error")]
    pages.append(message.render(kind="error", **{**common, "org_name": None}))  # the footer without an org
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", " ".join(pages))).split())


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_message_in_the_catalog_is_shown_on_some_page(language):
    """No message is dead, and none is looked up by a key built at run time (extraction misses those)."""
    text = every_page(language)
    catalog = read(POT) if language == i18n.DEFAULT_LANGUAGE else po(language)
    missing = [message.id for message in catalog if message.id
               and " ".join((message.string or message.id).split()) % VALUES not in text]
    assert missing == []
