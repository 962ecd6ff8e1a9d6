"""The dashboard's words: its own gettext domain, `dashboard`, beside the status page's `messages`.

English is the source language: the msgids in templates/dashboard/ and plugin/dashboard/ are the
English dashboard. Another language is `plugin/translations/<language>/LC_MESSAGES/dashboard.po`,
made from `plugin/translations/dashboard.pot` (extracted with babel-dashboard.cfg; README, "Adding a
language"). None ships yet, so the dashboard is English.

Which language a page is in: the first language of the browser's Accept-Language that has a
dashboard catalog, else English. There is no per-user or per-organisation choice (yet): the people
who use one dashboard usually share a language with their browser, and a setting would be one more
thing to keep. Outside a request (the CLI, a test) it is English.

Templates call `_("...", name=value)` and `ngettext(singular, plural, n, name=value)`; Python code
calls `gettext`, or `lazy_gettext` for a label made when a module is imported (before any request),
or marks a msgid with `N_` where it is defined and calls `gettext` on it where it is shown.
The results are plain text, never Markup, so the template escapes all of it, values and translation
alike, as on the status page.
"""

from __future__ import annotations

from typing import Any

from babel.support import LazyProxy
from flask import g, has_request_context, request

from plugin.web import catalogs

DOMAIN = "dashboard"
LANGUAGES: tuple[str, ...] = catalogs.shipped_languages(DOMAIN)


def dashboard_language() -> str:
    """This request's language (decided once per request), English outside one."""
    if not has_request_context():
        return catalogs.DEFAULT_LANGUAGE
    if "dashboard_language" not in g:
        g.dashboard_language = request.accept_languages.best_match(LANGUAGES, default=catalogs.DEFAULT_LANGUAGE)
    return str(g.dashboard_language)


def gettext(msgid: str, **values: Any) -> str:
    """`msgid` in this request's language; values fill its `%(name)s` placeholders when given."""
    text = catalogs.translations(DOMAIN, dashboard_language()).gettext(msgid)
    return text % values if values else text


def ngettext(singular: str, plural: str, num: int, **values: Any) -> str:
    """The form for `num` (`%(num)d` in either form is the number itself)."""
    text = catalogs.translations(DOMAIN, dashboard_language()).ngettext(singular, plural, num)
    return text % {"num": num, **values}


def N_(msgid: str) -> str:
    """Marks a msgid for extraction where it is defined; whoever shows it translates it then."""
    return msgid


def lazy_gettext(msgid: str, **values: Any) -> Any:
    """A label made at import time, translated each time it is shown (into that request's language)."""
    return LazyProxy(gettext, msgid, enable_cache=False, **values)


def template_helpers() -> dict[str, Any]:
    """For the dashboard blueprint's context processor. Not the app's Jinja globals: the status page,
    which shares the Jinja environment, passes its own `_` for its own domain. Macro files are
    imported "with context" so they see these too."""
    return {"_": gettext, "ngettext": ngettext, "gettext": gettext, "dashboard_language": dashboard_language()}
