"""The dashboard's words go through gettext (its own domain, `dashboard`): none is left outside it.

babel-dashboard.cfg says where `pybabel` looks; plugin/translations/dashboard.pot is what it finds.
README, "Adding a language", has the commands. No language but English ships for the dashboard yet,
so these tests check the mechanism: the template of messages is current, every visible piece of text
in templates/dashboard/ is inside `_()`/`ngettext()`, and a catalog, once there, is used.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from dashboard_support import add_user, sign_in
from flask import Flask
from jinja2 import Environment

from plugin.dashboard import i18n
from plugin.web import catalogs

ROOT = Path(__file__).resolve().parents[2]
POT = ROOT / "plugin" / "translations" / "dashboard.pot"
TEMPLATES = sorted((ROOT / "templates" / "dashboard").glob("*.html"))
EXTRACT = ["pybabel", "extract", "-F", "babel-dashboard.cfg", "-k", "lazy_gettext", "--no-location",
           "--sort-output", "-o"]
EXTRACT_COMMAND = " ".join([*EXTRACT, "plugin/translations/dashboard.pot", "."])

# Text that stays as it is in every language. Kept short on purpose: a word here is a word nobody can
# translate. "Ghostless" is the product's name.
ALLOWED_WORDS = {"Ghostless"}

# Attributes a person reads (or hears, with a screen reader) like text.
VISIBLE_ATTRIBUTES = re.compile(r"""\b(title|aria-label|placeholder|alt)\s*=\s*"([^"]*)\"""")
CONSTRUCT = "\x00"  # stands for a {{ }}, {% %} or {# #} in the skeleton of a template
ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
# Attribute names (their values blanked out) that a macro writes into a tag opened elsewhere
# (`{% if err %} aria-invalid="true"{% endif %}`): markup, though no `<` is in sight.
ATTRIBUTES_ONLY = re.compile(r"(\s*[\w-]+=)+\s*")
ATTRIBUTE_VALUE = re.compile(r'(?<==)\s*"[^"]*"')
TAG = re.compile(r"<[^>]*>")
RAW_TEXT = re.compile(r"<(script|style)\b.*?</\1>", re.S | re.I)


def skeleton(source: str) -> tuple[str, list[int]]:
    """The template's markup with every Jinja construct as one CONSTRUCT, and each character's line.

    Jinja's lexer says what is template data and what is an expression or a statement, so text
    inside `{{ _("...") }}` is never mistaken for page text, and text between two constructs is.
    """
    text: list[str] = []
    lines: list[int] = []
    for lineno, kind, value in Environment().lex(source):
        if kind == "data":
            for offset, char in enumerate(value):
                text.append(char)
                lines.append(lineno + value.count("\n", 0, offset))
        elif kind.endswith("_begin"):
            text.append(CONSTRUCT)
            lines.append(lineno)
    return "".join(text), lines


def has_words(text: str) -> bool:
    if ATTRIBUTES_ONLY.fullmatch(text):
        return False
    words = re.findall(r"[^\W\d_]+", ENTITY.sub(" ", text))
    return any(word not in ALLOWED_WORDS for word in words)


def untranslated_text(source: str) -> list[tuple[int, str]]:
    """(line, text) for each piece of page text, or visible attribute, written outside gettext."""
    markup, lines = skeleton(source)
    markup = RAW_TEXT.sub(lambda found: " " * len(found.group(0)), markup)  # scripts and styles: code
    found = [(lines[attribute.start()], attribute.group(0)) for attribute in VISIBLE_ATTRIBUTES.finditer(markup)
             if has_words(attribute.group(2).replace(CONSTRUCT, " "))]
    # What is left once tags and attribute values are blanked out (keeping each character's place, so
    # its line) is the page's text. A macro may write attributes with no tag in sight.
    text = ATTRIBUTE_VALUE.sub(lambda value: " " * len(value.group(0)), markup)
    text = TAG.sub(lambda tag: CONSTRUCT + " " * (len(tag.group(0)) - 1), text)  # a tag ends a piece of text
    for piece in re.finditer(f"[^{CONSTRUCT}]+", text):
        if has_words(piece.group(0)):
            found.append((lines[piece.start()], " ".join(piece.group(0).split())))
    return found


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.name)
def test_every_visible_text_in_the_template_goes_through_gettext(template):
    left = untranslated_text(template.read_text(encoding="utf-8"))
    assert left == [], f"wrap these in {{{{ _(\"...\") }}}} (README, Adding a language): {left}"


def test_the_scan_finds_text_between_tags_constructs_and_in_visible_attributes():
    source = (
        '<h1>{{ _("Overview") }}</h1>\n<p>{{ n }} rows</p>\n<a title="Open {{ x }}" href="/a">&larr;</a>\n'
        '<nav aria-label="{{ _("Pages") }}">Ghostless &middot; {{ org }}</nav>\n'
        '<script nonce="{{ nonce }}">var words = "not text";</script>{% if a %} selected{% endif %}'
    )
    assert untranslated_text(source) == [(3, 'title="Open \x00"'), (2, "rows"), (5, "selected")]


# -- the template of messages ----------------------------------------------------------------------

def comparable(pot: str) -> str:
    """A .pot without what changes on every run: the creation date and the year in the header notes."""
    return "\n".join(line for line in pot.splitlines()
                     if not line.startswith(('"POT-Creation-Date:', "# ")))


def test_the_template_of_messages_is_up_to_date_with_the_code(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    fresh = tmp_path / "dashboard.pot"
    CommandLineInterface().run([*EXTRACT[:1], "--quiet", *EXTRACT[1:], str(fresh), "."])
    assert comparable(fresh.read_text(encoding="utf-8")) == comparable(POT.read_text(encoding="utf-8")), (
        f"run `{EXTRACT_COMMAND}` (and `pybabel update` for each dashboard catalog)")


def test_the_dashboard_domain_stays_apart_from_the_status_page():
    # A language of the status page (de, es, fr) is not a dashboard language until it has a dashboard.po.
    assert i18n.LANGUAGES == ("en",)
    messages = (ROOT / "plugin" / "translations" / "messages.pot").read_text(encoding="utf-8")
    assert 'msgid "Sign in to see this page."' not in messages
    assert 'msgid "Sign in to see this page."' in POT.read_text(encoding="utf-8")


# -- a catalog, once there, is used ----------------------------------------------------------------

GERMAN = (
    'msgid ""\nmsgstr "Content-Type: text/plain; charset=utf-8\\n'
    'Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n'
    'msgid "Overview"\nmsgstr "Übersicht"\n\n'
    'msgid "Times are in %(zone)s."\nmsgstr "Zeiten in %(zone)s."\n\n'
    'msgid "%(num)d row"\nmsgid_plural "%(num)d rows"\nmsgstr[0] "%(num)d Zeile"\nmsgstr[1] "%(num)d Zeilen"\n'
)


@pytest.fixture
def german_catalog(tmp_path, monkeypatch):
    """A dashboard.po for German, in a copy of plugin/translations/ (the real one ships none)."""
    folder = tmp_path / "de" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "dashboard.po").write_text(GERMAN, encoding="utf-8")
    monkeypatch.setattr(catalogs, "catalog_dir", lambda: tmp_path)
    monkeypatch.setattr(i18n, "LANGUAGES", catalogs.shipped_languages(i18n.DOMAIN))
    catalogs.translations.cache_clear()
    yield
    catalogs.translations.cache_clear()


def test_the_browser_language_picks_a_catalog_that_exists(german_catalog):
    app = Flask(__name__)
    with app.test_request_context(headers={"Accept-Language": "de-AT,de;q=0.9,en;q=0.5"}):
        assert i18n.dashboard_language() == "de"
        assert i18n.gettext("Overview") == "Übersicht"
        assert i18n.gettext("Times are in %(zone)s.", zone="<b>Europe/Vienna</b>") == "Zeiten in <b>Europe/Vienna</b>."
        assert [i18n.ngettext("%(num)d row", "%(num)d rows", n) for n in (1, 3)] == ["1 Zeile", "3 Zeilen"]
        assert str(i18n.lazy_gettext("Overview")) == "Übersicht"
        assert i18n.gettext("Not in the catalog") == "Not in the catalog"
    with app.test_request_context(headers={"Accept-Language": "fr-CH,fr;q=0.9"}):
        assert i18n.gettext("Overview") == "Overview"  # no French dashboard catalog: English
    with app.test_request_context():
        assert i18n.dashboard_language() == "en"


def test_english_is_the_source_and_needs_no_catalog():
    app = Flask(__name__)
    with app.test_request_context(headers={"Accept-Language": "de"}):
        assert i18n.dashboard_language() == "en"  # German ships for the status page, not the dashboard
        assert i18n.ngettext("%(num)d row", "%(num)d rows", 1) == "1 row"
        assert type(i18n.gettext("Overview")) is str  # never Markup: the template escapes all of it
    assert i18n.gettext("Overview") == "Overview"  # outside a request



def test_a_signed_in_page_speaks_the_browsers_language_when_a_catalog_has_it(german_catalog, rt, client, org):
    add_user(rt, org.id, "boss@acme.example")
    sign_in(client, "boss@acme.example")
    german = client.get("/dashboard/", headers={"Accept-Language": "de-DE,de;q=0.9"}).get_data(as_text=True)
    assert '<html lang="de">' in german and "<h1>Übersicht</h1>" in german
    english = client.get("/dashboard/").get_data(as_text=True)
    assert '<html lang="en">' in english and "<h1>Overview</h1>" in english
