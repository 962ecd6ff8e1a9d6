"""Links from the timeline to the application's own page in its ATS, when we can know the address.

Greenhouse, Lever and Ashby addresses are built from the ids we hold; Workable's holds a job id we
never receive, so its `profile_url` is taken from the stored deliveries and accepted only on the
account's own workable.com subdomain.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from plugin.dashboard import db
from plugin.models import Application, AtsConnection, AtsDelivery, Candidate, InboundEvent

_WORKABLE_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def ats_record_url(provider: str | None, *, candidate_id: str | None, application_id: str | None,
                   workable_subdomain: str | None = None, profile_url: str | None = None) -> str | None:
    """The web page of this candidate/application in its ATS, or None when we cannot know it.

    - Greenhouse: https://app.greenhouse.io/people/<candidate id>?application_id=<application id>
      (the `url` Greenhouse itself puts in its webhook payloads);
    - Lever: https://hire.lever.co/candidates/<opportunity id> (our application id is the opportunity);
    - Ashby: https://app.ashbyhq.com/candidates/<candidate id>;
    - Workable: the candidate's `profile_url` from Workable's own payload, accepted only on
      https://<account subdomain>.workable.com/backend/... (its path holds Workable's numeric job id,
      which we never receive, so we cannot build it ourselves);
    - anything else (the API, unknown providers): None.
    """
    provider = (provider or "").lower()
    if provider == "greenhouse" and candidate_id:
        url = f"https://app.greenhouse.io/people/{quote(candidate_id, safe='')}"
        return f"{url}?application_id={quote(application_id, safe='')}" if application_id else url
    if provider == "lever" and application_id:
        return f"https://hire.lever.co/candidates/{quote(application_id, safe='')}"
    if provider == "ashby" and candidate_id:
        return f"https://app.ashbyhq.com/candidates/{quote(candidate_id, safe='')}"
    if provider == "workable" and profile_url:
        parts = urlsplit(profile_url)
        host = (parts.hostname or "").lower()
        label, _, domain = host.partition(".")
        if (parts.scheme == "https" and domain == "workable.com" and _WORKABLE_LABEL.match(label)
                and parts.path.startswith("/backend/") and parts.port is None and not parts.username
                and (workable_subdomain is None or label == workable_subdomain.lower())):
            return profile_url
    return None


def _find_profile_url(payload: Any, candidate_id: str, depth: int = 0) -> str | None:
    """Workable's `profile_url` of `candidate_id` in a webhook body or a poll page."""
    if depth > 6:
        return None
    if isinstance(payload, Mapping):
        if str(payload.get("id")) == candidate_id and isinstance(payload.get("profile_url"), str):
            return str(payload["profile_url"])
        values: Any = payload.values()
    elif isinstance(payload, list):
        values = payload
    else:
        return None
    for value in values:
        found = _find_profile_url(value, candidate_id, depth + 1)
        if found:
            return found
    return None


def _workable_hint(org_id: str, events: list[InboundEvent], candidate_id: str) -> tuple[str | None, str | None]:
    """(account subdomain, profile_url) from the newest stored Workable deliveries about this application."""
    delivery_ids = [e.raw["ats_delivery_id"] for e in events
                    if e.source == "workable" and isinstance(e.raw, dict)
                    and isinstance(e.raw.get("ats_delivery_id"), int)][:3]
    for delivery_id in delivery_ids:
        delivery = db().get(AtsDelivery, delivery_id)
        if delivery is None or delivery.org_id != org_id or not delivery.body:
            continue
        connection = db().get(AtsConnection, delivery.connection_id)
        subdomain = (connection.options or {}).get("subdomain") if connection is not None else None
        try:
            body = json.loads(delivery.body)
        except ValueError:
            continue
        url = _find_profile_url(body, candidate_id)
        if url:
            return (subdomain if isinstance(subdomain, str) else None), url
    return None, None


def application_ats_link(org_id: str, events: list[InboundEvent], candidate: Candidate,
                         app: Application) -> tuple[str | None, str | None]:
    """(the ATS the application's events came from, its page there or None)."""
    provider = next((e.source for e in events if e.source and e.source != "api"), None)
    subdomain = profile_url = None
    if provider == "workable" and candidate.erased_at is None:
        subdomain, profile_url = _workable_hint(org_id, events, candidate.external_id)
    ats_url = ats_record_url(provider, candidate_id=candidate.external_id, application_id=app.external_id,
                             workable_subdomain=subdomain, profile_url=profile_url)
    return provider, ats_url
