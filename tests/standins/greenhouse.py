"""A local Greenhouse: the OAuth token endpoint and the Harvest v3 lists the adapter reads.

Shapes follow the vendor's docs (https://harvestdocs.greenhouse.io): lists answer a JSON array,
the next page is a `Link: <...?cursor=...>; rel="next"` header (no prev/last kept), a follow-up
request must carry the cursor and nothing else (422 otherwise, as for an invalid cursor), `ids` and
parent `*_ids` filters take comma-separated ids, `updated_at`/`created_at` take `op|time` pairs
(`gte|2024-01-01T00:00:00Z`, several pairs joined by `|`), `per_page` is 1-500. The token endpoint
is POST /token with HTTP Basic client_id:client_secret and a form `grant_type=client_credentials`
(`sub` optional), answering `access_token` and `expires_at`. A wrong or missing bearer token is 401.

    with GreenhouseStandIn() as gh:
        gh.add_application(71980812, candidate_id=60304594, job_id=274075, updated_at="2026-11-01T10:00:00Z")
        gh.add_interview(9128481, application_id=71980812, status="scheduled", starts_at=..., ends_at=...)
        options = gh.options()   # api_base_url + auth_url for the connection
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from vendor_standin import Recorded, Reply, VendorStandIn

CLIENT_ID = "gh-client"
CLIENT_SECRET = "gh-client-secret"
RESOURCES = ("interviews", "applications", "candidates", "jobs", "departments", "rejection_reasons")
# Which query parameter names a parent for each list (v3 `parent_ids` filters).
PARENTS = {"interviews": {"application_ids": "application_id", "job_ids": "job_id"},
           "applications": {"candidate_ids": "candidate_id", "job_ids": "job_id"}}
_OPS = {"gte": lambda a, b: a >= b, "gt": lambda a, b: a > b, "lte": lambda a, b: a <= b, "lt": lambda a, b: a < b}


def _time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class GreenhouseStandIn(VendorStandIn):
    def __init__(self, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET) -> None:
        super().__init__()
        self.client_id, self.client_secret = client_id, client_secret
        self.records: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in RESOURCES}
        self.tokens: set[str] = set()
        self.token_requests: list[Recorded] = []
        self._cursors: dict[str, tuple[str, dict[str, list[str]], int]] = {}
        self.route("POST", "/token", self._token)
        for name in RESOURCES:
            self.route("GET", f"/v3/{name}", self._lister(name))

    # -- test helpers ----------------------------------------------------------------------------
    def options(self, **more: Any) -> dict[str, Any]:
        return {"api_base_url": self.url, "auth_url": self.url + "/token", **more}

    def credentials(self) -> dict[str, str]:
        return {"client_id": self.client_id, "client_secret": self.client_secret}

    def put(self, resource: str, record: dict[str, Any]) -> dict[str, Any]:
        self.records[resource][int(record["id"])] = record
        return record

    def update(self, resource: str, record_id: int, **fields: Any) -> dict[str, Any]:
        self.records[resource][record_id].update(fields)
        return self.records[resource][record_id]

    def add_application(self, record_id: int, *, candidate_id: int, job_id: int, updated_at: str,
                        status: str = "in_process", **fields: Any) -> dict[str, Any]:
        return self.put("applications", {
            "id": record_id, "candidate_id": candidate_id, "job_id": job_id, "prospect": False, "status": status,
            "stage_name": None, "rejected_at": None, "rejection_reason_id": None, "created_at": updated_at,
            "updated_at": updated_at, "last_activity_at": updated_at, **fields})

    def add_interview(self, record_id: int, *, application_id: int, status: str, starts_at: str | None,
                      ends_at: str | None, updated_at: str, job_id: int | None = None, **fields: Any) -> dict[str, Any]:
        return self.put("interviews", {
            "id": record_id, "application_id": application_id, "job_id": job_id, "job_interview_id": None,
            "status": status, "starts_at": starts_at, "ends_at": ends_at, "all_day_start_on": None,
            "all_day_end_on": None, "scheduled_at": fields.pop("scheduled_at", updated_at),
            "created_at": fields.pop("created_at", updated_at), "updated_at": updated_at, "location": None,
            "organizer_id": None, "external_event_id": None, "video_conferencing_url": None, **fields})

    def add_candidate(self, record_id: int, *, first_name: str, last_name: str, email: str,
                      updated_at: str = "2026-01-01T00:00:00.000Z") -> dict[str, Any]:
        return self.put("candidates", {
            "id": record_id, "first_name": first_name, "last_name": last_name,
            "email_addresses": [{"value": email, "type": "personal"}], "updated_at": updated_at})

    def add_job(self, record_id: int, *, name: str, status: str = "open", department_id: int | None = None,
                updated_at: str = "2026-01-01T00:00:00.000Z", closed_at: str | None = None) -> dict[str, Any]:
        return self.put("jobs", {"id": record_id, "name": name, "status": status, "department_id": department_id,
                                 "closed_at": closed_at, "updated_at": updated_at})

    def api_requests(self, resource: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == f"/v3/{resource}"]

    # -- routes ----------------------------------------------------------------------------------
    def _token(self, request: Recorded, match: re.Match[str]) -> Reply:
        self.token_requests.append(request)
        expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return Reply(401, {"error": "invalid_client"})
        form = parse_qs(request.body.decode())
        if form.get("grant_type") != ["client_credentials"]:
            return Reply(400, {"error": "unsupported_grant_type"})
        token = secrets.token_urlsafe(16)
        self.tokens.add(token)
        return Reply(200, {"access_token": token, "token_type": "Bearer", "expires_at": "2099-01-01T00:00:00+0000"})

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def _authorized(self, request: Recorded) -> bool:
        header = request.headers.get("authorization", "")
        return header.startswith("Bearer ") and header[len("Bearer "):] in self.tokens

    def _lister(self, name: str) -> Any:
        def handle(request: Recorded, match: re.Match[str]) -> Reply:
            if not self._authorized(request):
                return Reply(401, {"message": "Unauthorized"})
            if "cursor" in request.query:
                if set(request.query) != {"cursor"} or request.param("cursor") not in self._cursors:
                    return Reply(422, {"message": "cursor must be the only parameter, and valid"})
                resource, query, offset = self._cursors[request.param("cursor") or ""]
            else:
                resource, query, offset = name, request.query, 0
            try:
                per_page = int((query.get("per_page") or ["100"])[0])
                matching = self._filter(resource, query)
            except ValueError as exc:
                return Reply(422, {"message": str(exc)})
            if not 1 <= per_page <= 500:
                return Reply(422, {"message": "per_page must be between 1 and 500"})
            page = matching[offset:offset + per_page]
            headers = {}
            if offset + per_page < len(matching):
                cursor = secrets.token_urlsafe(8)
                self._cursors[cursor] = (resource, query, offset + per_page)
                headers["Link"] = f'<{self.url}/v3/{resource}?cursor={cursor}>; rel="next"'
            return Reply(200, json.loads(json.dumps(page)), headers)
        return handle

    def _filter(self, resource: str, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        found = sorted(self.records[resource].values(), key=lambda r: r["id"])
        if query.get("ids"):
            ids = {int(i) for i in query["ids"][0].split(",") if i}
            found = [r for r in found if r["id"] in ids]
        for parameter, field in PARENTS.get(resource, {}).items():
            if query.get(parameter):
                wanted = {int(i) for i in query[parameter][0].split(",") if i}
                found = [r for r in found if r.get(field) in wanted]
        for field in ("updated_at", "created_at"):
            if query.get(field):
                found = [r for r in found if r.get(field) and _matches(_time(r[field]), query[field][0])]
        return found


def _matches(value: datetime, expression: str) -> bool:
    parts = expression.split("|")
    if len(parts) % 2:
        raise ValueError(f"bad filter {expression!r}: expected op|time pairs")
    for op, when in zip(parts[::2], parts[1::2]):
        if op not in _OPS:
            raise ValueError(f"bad operator {op!r}")
        if not _OPS[op](value, _time(when)):
            return False
    return True
