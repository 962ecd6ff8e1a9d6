"""Helpers for dashboard tests: users, sign-in through the real form, CSRF tokens from the pages."""

from __future__ import annotations

import re
from typing import Any, Iterable

from plugin import clock
from plugin.accounts.users import create_user
from plugin.models import Organization, Role

PASSWORD = "correct horse battery staple"

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_user(rt: Any, org_id: str, email: str, role: str = "admin", *, departments: Iterable[str] = (),
             name: str | None = None, password: str = PASSWORD) -> int:
    with rt.db.session() as session:
        org = session.get(Organization, org_id)
        assert org is not None
        user = create_user(session, org, email, Role(role), password=password, now=clock.now(), name=name,
                           departments=departments)
        session.commit()
        return user.id


def csrf_token(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: Any, email: str, password: str = PASSWORD, expect: int = 302) -> Any:
    page = client.get("/dashboard/sign-in")
    response = client.post("/dashboard/sign-in", data={"email": email, "password": password,
                                                       "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert response.status_code == expect, response.get_data(as_text=True)[:2000]
    return response


def submit(client: Any, form_page: str, action: str, data: dict[str, Any], expect: int | None = None) -> Any:
    """Open `form_page`, take its CSRF token, post `data` to `action` (as a browser would)."""
    page = client.get(form_page)
    assert page.status_code == 200, page.status_code
    response = client.post(action, data={**data, "csrf_token": csrf_token(page.get_data(as_text=True))})
    if expect is not None:
        assert response.status_code == expect, response.get_data(as_text=True)[:3000]
    return response
