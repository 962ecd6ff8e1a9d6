"""Mutants for the dashboard's gettext domain (issue 12, last part): a string left outside gettext, a
stale dashboard.pot, a catalog that is never read, a browser language that is never asked.

Each `search` occurs exactly once in `file` and becomes `replace`; the listed tests must go red.
"""

from __future__ import annotations

TESTS = "tests/dashboard/test_dashboard_translations.py"

MUTANTS = [
    {
        "name": "dashboard-text-unwrapped",
        "why": "a button's label is written in the template again, out of the translators' reach",
        "file": "templates/dashboard/overview.html",
        "search": '>{{ _("Reset") }}</a>',
        "replace": ">Reset</a>",
        "tests": [TESTS],
    },
    {
        "name": "dashboard-attribute-unwrapped",
        "why": "a form's aria-label (read out by screen readers) is English in every language",
        "file": "templates/dashboard/applications.html",
        "search": 'aria-label="{{ _("Find candidates") }}"',
        "replace": 'aria-label="Find candidates"',
        "tests": [TESTS],
    },
    {
        "name": "dashboard-pot-stale",
        "why": "a flash message changes wording and dashboard.pot is not extracted again",
        "file": "plugin/dashboard/users_pages.py",
        "search": 'gettext("Nothing changed.")',
        "replace": 'gettext("Nothing was changed.")',
        "tests": [TESTS],
    },
    {
        "name": "dashboard-catalog-ignored",
        "why": "a dashboard.po is there but every page stays English",
        "file": "plugin/dashboard/i18n.py",
        "search": "    text = catalogs.translations(DOMAIN, dashboard_language()).gettext(msgid)\n",
        "replace": "    text = msgid\n",
        "tests": [TESTS],
    },
    {
        "name": "dashboard-accept-language-ignored",
        "why": "the browser's language is never asked, so a shipped catalog is never shown",
        "file": "plugin/dashboard/i18n.py",
        "search": "request.accept_languages.best_match(LANGUAGES, default=catalogs.DEFAULT_LANGUAGE)",
        "replace": "catalogs.DEFAULT_LANGUAGE",
        "tests": [TESTS],
    },
]
