"""A local stand-in for Ashby's REST API (https://api.ashbyhq.com), serving its documented shapes.

- RPC style: `POST /<object>.<verb>` with a JSON body; HTTP Basic with the API key as the user name and
  an empty password (anything else: 401).
- Answers `{"success": true, "results": ...}`; refusals come as HTTP 200 with `success: false`,
  `errorInfo: {code, message}` and `errors: [code]` (docs/responses and the endpoint schemas).
- List endpoints (`application.list`, `interviewSchedule.list`) page with `limit` / `cursor` ->
  `moreDataAvailable` / `nextCursor`, and hand out a `syncToken` on the last page of a pass; a later
  request with that token returns only records changed since (docs/pagination-and-incremental-sync).
  `reject_incremental()` makes the next token-carrying request fail with `incremental_sync_too_large`.

Every stored record has a change sequence number; a sync token is the sequence number at the start of
the pass that produced it, so a change made while a pass pages through is picked up by the next pass.
"""

from __future__ import annotations

import base64
import copy
import re
from typing import Any

from vendor_standin import Recorded, Reply, VendorStandIn

API_KEY = "ashby-test-key"


class AshbyStandIn(VendorStandIn):
    def __init__(self, api_key: str = API_KEY) -> None:
        super().__init__()
        self.api_key = api_key
        self.page_size = 100  # what the stand-in caps `limit` at; tests lower it to force pagination
        self.applications: dict[str, dict[str, Any]] = {}
        self.schedules: dict[str, dict[str, Any]] = {}
        self.interview_events: dict[str, list[dict[str, Any]]] = {}  # by interview schedule id
        self.stages: dict[str, dict[str, Any]] = {}
        self._seq = 0
        self._changed: dict[tuple[str, str], int] = {}  # (endpoint, record id) -> sequence number
        self._reject_incremental = 0
        self.route("POST", r"/application\.list",
                   lambda r, m: self._guarded(r, lambda b: self._list("application.list", self.applications, b)))
        self.route("POST", r"/interviewSchedule\.list",
                   lambda r, m: self._guarded(r, lambda b: self._list("interviewSchedule.list", self.schedules, b)))
        self.route("POST", r"/application\.info", lambda r, m: self._guarded(r, self._application_info))
        self.route("POST", r"/interviewEvent\.list", lambda r, m: self._guarded(r, self._interview_event_list))
        self.route("POST", r"/interviewStage\.info", lambda r, m: self._guarded(r, self._interview_stage_info))

    # -- helpers for tests ---------------------------------------------------------------------------
    def put_application(self, application: dict[str, Any]) -> dict[str, Any]:
        """Add or replace an application (Ashby's application object); counts as a change."""
        self.applications[application["id"]] = copy.deepcopy(application)
        self._touch("application.list", application["id"])
        return self.applications[application["id"]]

    def modify_application(self, application_id: str, **changes: Any) -> dict[str, Any]:
        self.applications[application_id].update(copy.deepcopy(changes))
        self._touch("application.list", application_id)
        return self.applications[application_id]

    def put_schedule(self, schedule: dict[str, Any]) -> dict[str, Any]:
        """Add or replace an interview schedule; its `interviewEvents` also answer interviewEvent.list."""
        self.schedules[schedule["id"]] = copy.deepcopy(schedule)
        self.interview_events[schedule["id"]] = copy.deepcopy(schedule.get("interviewEvents") or [])
        self._touch("interviewSchedule.list", schedule["id"])
        return self.schedules[schedule["id"]]

    def put_stage(self, stage: dict[str, Any]) -> None:
        self.stages[stage["id"]] = copy.deepcopy(stage)

    def reject_incremental(self, times: int = 1) -> None:
        """The next `times` requests carrying a syncToken answer `incremental_sync_too_large`."""
        self._reject_incremental += times

    def calls(self, endpoint: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == f"/{endpoint}"]

    # -- serving -------------------------------------------------------------------------------------
    def _touch(self, endpoint: str, record_id: str) -> None:
        self._seq += 1
        self._changed[(endpoint, record_id)] = self._seq

    def _guarded(self, request: Recorded, handler: Any) -> Reply:
        expected = "Basic " + base64.b64encode(f"{self.api_key}:".encode()).decode()
        if request.headers.get("authorization") != expected:
            return Reply(401, {"success": False, "errorInfo": {"code": "invalid_api_key", "message": "Unauthorized"}})
        body = request.json()
        if not isinstance(body, dict):
            return _refusal("invalid_input", "Expected a JSON object")
        return handler(body)  # type: ignore[no-any-return]

    def _list(self, endpoint: str, store: dict[str, dict[str, Any]], body: dict[str, Any]) -> Reply:
        since = 0
        if body.get("syncToken") is not None:
            match = re.fullmatch(r"st-(\d+)", str(body["syncToken"]))
            if match is None:
                return _refusal("invalid_input", "Unknown syncToken")
            if self._reject_incremental:
                self._reject_incremental -= 1
                return _refusal("incremental_sync_too_large",
                                "Too many pages; discard the syncToken and do a full sync")
            since = int(match.group(1))
        offset, snapshot = 0, self._seq
        if body.get("cursor") is not None:
            match = re.fullmatch(r"c-(\d+)-(\d+)", str(body["cursor"]))
            if match is None:
                return _refusal("invalid_input", "Unknown cursor")
            offset, snapshot = int(match.group(1)), int(match.group(2))
        limit = max(1, min(int(body.get("limit") or 100), 100, self.page_size))
        changed = sorted((seq, record_id) for (ep, record_id), seq in self._changed.items()
                         if ep == endpoint and since < seq <= snapshot and record_id in store)
        page = changed[offset:offset + limit]
        more = offset + limit < len(changed)
        answer: dict[str, Any] = {"success": True, "results": [copy.deepcopy(store[i]) for _, i in page],
                                  "moreDataAvailable": more}
        if more:
            answer["nextCursor"] = f"c-{offset + limit}-{snapshot}"
        else:
            answer["syncToken"] = f"st-{snapshot}"
        return Reply(200, answer)

    def _application_info(self, body: dict[str, Any]) -> Reply:
        application = self.applications.get(str(body.get("applicationId")))
        if application is None:
            return _refusal("application_not_found", "Application not found - are you lacking permissions?")
        return Reply(200, {"success": True, "results": copy.deepcopy(application)})

    def _interview_event_list(self, body: dict[str, Any]) -> Reply:
        schedule_id = str(body.get("interviewScheduleId"))
        if schedule_id not in self.interview_events:
            return _refusal("interview_schedule_not_found", "Interview schedule not found")
        return Reply(200, {"success": True, "results": copy.deepcopy(self.interview_events[schedule_id]),
                           "moreDataAvailable": False})

    def _interview_stage_info(self, body: dict[str, Any]) -> Reply:
        stage = self.stages.get(str(body.get("interviewStageId")))
        if stage is None:
            return _refusal("interview_stage_not_found", "Interview stage not found")
        return Reply(200, {"success": True, "results": copy.deepcopy(stage)})


def _refusal(code: str, message: str) -> Reply:
    """What would be a 4xx comes back as HTTP 200 with success false (docs/responses)."""
    return Reply(200, {"success": False, "errors": [code], "errorInfo": {"code": code, "message": message}})
