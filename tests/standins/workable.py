"""A local stand-in for Workable's SPI v3, serving the documented response shapes.

Shapes (workable.readme.io): `GET /spi/v3/candidates/:id` -> `{"candidate": {...}}` whose `stage` is the
stage NAME and which carries `disqualified_at`; `GET /spi/v3/candidates` -> `{"candidates": [...],
"paging": {"next": <absolute url>}}` whose `stage` is the stage SLUG, with `stage_kind`, `withdrew`,
`hired_at` and no `disqualified_at`; `limit` defaults to 50, at most 100; `since_id` = "ID greater than or
equal to"; `updated_after` / `created_after` filters; candidates in insertion order. `GET /spi/v3/stages`
and `GET /spi/v3/events` (type, start_date, include_cancelled). Every route wants `Authorization: Bearer
<token>` and answers 401 `{"error": "Not authorized"}` otherwise; unknown ids answer 404 `{"error": "Not found"}`.

    with WorkableStandIn(token="tok") as wk:
        cid = wk.add_candidate(name="Ada Lovelace", stage="applied", at="2026-10-28T09:15:00Z")
        wk.move(cid, "interview", at="2026-10-30T10:00:00Z")
        options = {"api_base_url": wk.api_url}
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from vendor_standin import Recorded, Reply, VendorStandIn

DEFAULT_STAGES = [  # reference/stages example
    {"slug": "sourced", "name": "Sourced", "kind": "sourced", "position": 0},
    {"slug": "applied", "name": "Applied", "kind": "applied", "position": 1},
    {"slug": "phone-screen", "name": "Phone Screen", "kind": "phone-screen", "position": 2},
    {"slug": "interview", "name": "Interview", "kind": "interview", "position": 3},
    {"slug": "offer", "name": "Offer", "kind": "offer", "position": 4},
    {"slug": "hired", "name": "Hired", "kind": "hired", "position": 5},
]
# reference/job-candidates-show (detail) and reference/job-candidates-index (list) field tables.
DETAIL_KEYS = ("id", "name", "firstname", "lastname", "headline", "image_url", "account", "job", "stage",
               "disqualified", "disqualified_at", "disqualification_reason", "sourced", "profile_url", "address",
               "phone", "email", "outbound_mailbox", "domain", "uploader_id", "created_at", "updated_at",
               "cover_letter", "summary", "education_entries", "experience_entries")
LIST_KEYS = ("id", "name", "firstname", "lastname", "headline", "account", "job", "stage", "stage_kind",
             "disqualified", "withdrew", "disqualification_reason", "sourced", "profile_url", "email", "domain",
             "created_at", "updated_at", "hired_at", "address", "phone")
NOT_FOUND = Reply(404, {"error": "Not found"})


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


class WorkableStandIn(VendorStandIn):
    def __init__(self, token: str = "tok", subdomain: str = "groove-tech") -> None:
        super().__init__()
        self.token, self.subdomain = token, subdomain
        self.candidates: dict[str, dict[str, Any]] = {}  # insertion order = Workable's list order
        self.events: dict[str, dict[str, Any]] = {}
        self.stages: list[dict[str, Any]] = [dict(s) for s in DEFAULT_STAGES]
        self.max_page_size = 100  # lower it to exercise paging
        self._serial = 0x3f2a00
        self.route("GET", r"/spi/v3/candidates", self._list_candidates)
        self.route("GET", r"/spi/v3/candidates/(?P<id>[^/]+)", self._show_candidate)
        self.route("GET", r"/spi/v3/stages", lambda r, m: Reply(200, {"stages": self.stages}))
        self.route("GET", r"/spi/v3/events", self._list_events)

    @property
    def api_url(self) -> str:
        return self.url + "/spi/v3"

    # -- helpers for tests -----------------------------------------------------------------------
    def new_id(self) -> str:
        self._serial += 1
        return f"{self._serial:x}"

    def add_candidate(self, *, at: str, name: str = "Ada Lovelace", email: str | None = "ada@example.com",
                      stage: str = "applied", shortcode: str = "GROOV005", title: str = "Office Manager",
                      candidate_id: str | None = None, **extra: Any) -> str:
        candidate_id = candidate_id or self.new_id()
        first, _, last = name.partition(" ")
        self.candidates[candidate_id] = {
            "id": candidate_id, "name": name, "firstname": first, "lastname": last or None,
            "headline": "Operations Manager", "image_url": None,
            "account": {"subdomain": self.subdomain, "name": "Groove Tech"},
            "job": {"shortcode": shortcode, "title": title}, "stage_slug": stage,
            "disqualified": False, "disqualified_at": None, "disqualification_reason": None, "withdrew": False,
            "sourced": False,
            "profile_url": f"https://{self.subdomain}.workable.com/backend/jobs/376844767/candidates/{candidate_id}",
            "address": None, "phone": None, "email": email, "outbound_mailbox": f"{candidate_id}@outbound.example",
            "domain": "twitter.com", "uploader_id": None, "created_at": at, "updated_at": at, "hired_at": None,
            "cover_letter": None, "summary": None, "education_entries": [], "experience_entries": [], **extra,
        }
        return candidate_id

    def update(self, candidate_id: str, *, at: str, **changes: Any) -> None:
        self.candidates[candidate_id].update(changes, updated_at=at)

    def move(self, candidate_id: str, stage: str, *, at: str) -> None:
        changes: dict[str, Any] = {"stage_slug": stage}
        if self._stage(stage).get("kind") == "hired":
            changes["hired_at"] = at[:10]  # documented as a date
        self.update(candidate_id, at=at, **changes)

    def disqualify(self, candidate_id: str, *, at: str, reason: str | None = None, withdrew: bool = False) -> None:
        self.update(candidate_id, at=at, disqualified=True, disqualified_at=at, disqualification_reason=reason,
                    withdrew=withdrew)

    def revert(self, candidate_id: str, *, at: str) -> None:
        self.update(candidate_id, at=at, disqualified=False, disqualified_at=None, disqualification_reason=None,
                    withdrew=False)

    def delete(self, candidate_id: str) -> None:
        del self.candidates[candidate_id]

    def add_interview(self, candidate_id: str, *, starts_at: str, ends_at: str, cancelled: bool = False,
                      event_type: str = "interview", event_id: str | None = None) -> str:
        candidate = self.candidates[candidate_id]
        event_id = event_id or self.new_id()
        self.events[event_id] = {
            "id": event_id, "title": f"Interview with {candidate['name']}", "description": None, "type": event_type,
            "starts_at": starts_at, "ends_at": ends_at, "cancelled": cancelled,
            "job": dict(candidate["job"]), "members": [{"id": "13e0eb0e", "name": "Eduardo Vallente",
                                                          "status": "accepted"}],
            "candidate": {"id": candidate_id, "name": candidate["name"]}, "conference": None,
        }
        return event_id

    def detail(self, candidate_id: str) -> dict[str, Any]:
        record = self.candidates[candidate_id]
        view = {k: record.get(k) for k in DETAIL_KEYS if k != "stage"}
        view["stage"] = self._stage(record["stage_slug"]).get("name", record["stage_slug"])
        return view

    def listed(self, candidate_id: str) -> dict[str, Any]:
        record = self.candidates[candidate_id]
        view = {k: record.get(k) for k in LIST_KEYS if k not in ("stage", "stage_kind")}
        view["stage"] = record["stage_slug"]
        view["stage_kind"] = self._stage(record["stage_slug"]).get("kind")
        return view

    # -- routes ----------------------------------------------------------------------------------
    def _authorized(self, request: Recorded) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def _show_candidate(self, request: Recorded, match: re.Match[str]) -> Reply:
        if not self._authorized(request):
            return Reply(401, {"error": "Not authorized"})
        if match["id"] not in self.candidates:
            return NOT_FOUND
        return Reply(200, {"candidate": self.detail(match["id"])})

    def _list_candidates(self, request: Recorded, match: re.Match[str]) -> Reply:
        if not self._authorized(request):
            return Reply(401, {"error": "Not authorized"})
        ids = list(self.candidates)
        updated_after, created_after = request.param("updated_after"), request.param("created_after")
        if updated_after:
            ids = [i for i in ids if _time(self.candidates[i]["updated_at"]) > _time(updated_after)]
        if created_after:
            ids = [i for i in ids if _time(self.candidates[i]["created_at"]) > _time(created_after)]
        rows = self._page(request, ids, "/spi/v3/candidates")
        return Reply(200, {"candidates": [self.listed(i) for i in rows[0]], "paging": rows[1]})

    def _list_events(self, request: Recorded, match: re.Match[str]) -> Reply:
        if not self._authorized(request):
            return Reply(401, {"error": "Not authorized"})
        ids = list(self.events)
        wanted_type, start = request.param("type"), request.param("start_date")
        if wanted_type:
            ids = [i for i in ids if self.events[i]["type"] == wanted_type]
        if start:
            ids = [i for i in ids if _time(self.events[i]["starts_at"]) > _time(start)]
        if request.param("include_cancelled") != "true":
            ids = [i for i in ids if not self.events[i]["cancelled"]]
        rows = self._page(request, ids, "/spi/v3/events")
        return Reply(200, {"events": [self.events[i] for i in rows[0]], "paging": rows[1]})

    def _page(self, request: Recorded, ids: list[str], path: str) -> tuple[list[str], dict[str, str] | None]:
        """`since_id` (inclusive) and `limit`; `paging.next` repeats the filters with the next since_id."""
        since = request.param("since_id")
        if since is not None:
            ids = ids[ids.index(since):] if since in ids else []
        limit = min(int(request.param("limit") or 50), 100, self.max_page_size)
        page, rest = ids[:limit], ids[limit:]
        if not rest:
            return page, None
        query = {k: v[0] for k, v in request.query.items() if k != "since_id"}
        return page, {"next": f"{self.url}{path}?{urlencode({**query, 'since_id': rest[0]})}"}

    def _stage(self, slug: str) -> dict[str, Any]:
        return next((s for s in self.stages if s["slug"] == slug), {})
