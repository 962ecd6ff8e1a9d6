"""A local stand-in for Lever's REST API (https://hire.lever.co/developer/documentation).

Serves the documented shapes: `{"data": {...}}` for one object, `{"data": [...], "hasNext": bool,
"next": "<offset token>"}` for lists (the next page is asked for with `offset=<next>`, size with
`limit`), timestamps in epoch milliseconds, `expand=` for the documented expandable fields, and
errors as `{"code": ..., "message": ...}`. Auth: HTTP Basic, API key as user name, empty password.

    with LeverStandIn(api_key="k") as lever:
        lever.add_archive_reason("r-hired", "Hired", "hired")
        lever.add_posting("p-1", "Backend Engineer", hiring_manager=lever.add_user("u-1", "Grace", "g@x.io"))
        lever.add_opportunity("o-1", contact="c-1", name="Ada", emails=["ada@x.io"], posting="p-1", ...)
"""

from __future__ import annotations

import base64
import copy
import json
import re
from typing import Any

from vendor_standin import Recorded, Reply, VendorStandIn


def _not_found(what: str) -> Reply:
    return Reply(404, {"code": "ResourceNotFound", "message": f"{what} not found"})


class LeverStandIn(VendorStandIn):
    def __init__(self, api_key: str = "lever-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.opportunities: dict[str, dict[str, Any]] = {}
        self.deleted: dict[str, dict[str, Any]] = {}
        self.interviews: dict[str, list[dict[str, Any]]] = {}
        self.feedback: dict[str, list[dict[str, Any]]] = {}
        self.archive_reasons: dict[str, dict[str, Any]] = {}
        self.postings: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.stages: dict[str, dict[str, Any]] = {}
        self.route("GET", r"/v1/opportunities", self._list_opportunities)
        self.route("GET", r"/v1/opportunities/deleted", self._list_deleted)  # before /{id}
        self.route("GET", r"/v1/opportunities/([^/]+)", self._get_opportunity)
        self.route("GET", r"/v1/opportunities/([^/]+)/interviews", self._list_interviews)
        self.route("GET", r"/v1/opportunities/([^/]+)/feedback", self._list_feedback)
        self.route("GET", r"/v1/archive_reasons", self._list_archive_reasons)
        self.route("GET", r"/v1/postings/([^/]+)", self._get_posting)

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    # -- records ---------------------------------------------------------------------------------
    def add_user(self, user_id: str, name: str, email: str) -> str:
        self.users[user_id] = {"id": user_id, "name": name, "username": name.split()[0].lower(), "email": email,
                               "accessRole": "interviewer"}
        return user_id

    def add_stage(self, stage_id: str, text: str) -> str:
        self.stages[stage_id] = {"id": stage_id, "text": text}
        return stage_id

    def add_archive_reason(self, reason_id: str, text: str, type_: str, status: str = "active") -> str:
        self.archive_reasons[reason_id] = {"id": reason_id, "text": text, "status": status, "type": type_}
        return reason_id

    def add_posting(self, posting_id: str, text: str, *, department: str | None = None, team: str | None = None,
                    hiring_manager: str | None = None, owner: str | None = None, state: str = "published",
                    updated_at: int = 1_700_000_000_000) -> str:
        self.postings[posting_id] = {
            "id": posting_id, "text": text, "state": state, "createdAt": 1_600_000_000_000, "updatedAt": updated_at,
            "confidentiality": "non-confidential", "user": owner, "owner": owner, "hiringManager": hiring_manager,
            "categories": {"team": team, "department": department, "location": "Remote", "commitment": "Full-time"},
            "tags": [], "followers": [],
        }
        return posting_id

    def add_opportunity(self, opportunity_id: str, *, contact: str, name: str, emails: list[str],
                        posting: str | None, stage: str, created_at: int, updated_at: int | None = None,
                        last_advanced_at: int | None = None) -> dict[str, Any]:
        application = None
        if posting is not None:
            application = {"id": f"app-{opportunity_id}", "opportunityId": opportunity_id,
                           "candidateId": opportunity_id, "createdAt": created_at, "type": "posting",
                           "posting": posting,
                           "postingOwner": self.postings.get(posting, {}).get("owner"),
                           "postingHiringManager": self.postings.get(posting, {}).get("hiringManager")}
        self.opportunities[opportunity_id] = {
            "id": opportunity_id, "name": name, "headline": "", "contact": contact, "emails": list(emails),
            "phones": [], "confidentiality": "non-confidential", "location": "", "links": [], "archived": None,
            "stage": stage, "stageChanges": [{"toStageId": stage, "toStageIndex": 0, "updatedAt": created_at,
                                              "userId": None}],
            "tags": [], "sources": [], "origin": "applied", "owner": None, "followers": [],
            "applications": [application] if application else [],
            "createdAt": created_at, "updatedAt": updated_at if updated_at is not None else created_at,
            "lastInteractionAt": created_at, "lastAdvancedAt": last_advanced_at or created_at, "snoozedUntil": None,
            "urls": {"list": "https://hire.lever.co/candidates",
                     "show": f"https://hire.lever.co/candidates/{opportunity_id}"},
            "dataProtection": None, "isAnonymized": False,
        }
        self.interviews.setdefault(opportunity_id, [])
        self.feedback.setdefault(opportunity_id, [])
        return self.opportunities[opportunity_id]

    def move(self, opportunity_id: str, stage: str, at: int) -> None:
        opp = self.opportunities[opportunity_id]
        opp["stage"], opp["lastAdvancedAt"], opp["updatedAt"] = stage, at, at
        opp["stageChanges"].append({"toStageId": stage, "toStageIndex": len(opp["stageChanges"]), "updatedAt": at,
                                    "userId": None})

    def archive(self, opportunity_id: str, reason: str, at: int) -> None:
        opp = self.opportunities[opportunity_id]
        opp["archived"], opp["updatedAt"] = {"archivedAt": at, "reason": reason}, at

    def unarchive(self, opportunity_id: str, at: int) -> None:
        opp = self.opportunities[opportunity_id]
        opp["archived"], opp["updatedAt"] = None, at

    def anonymize(self, opportunity_id: str, at: int) -> None:
        opp = self.opportunities[opportunity_id]
        opp.update(name="", emails=[], isAnonymized=True, updatedAt=at)

    def delete(self, opportunity_id: str, at: int, by: str | None = None) -> None:
        opp = self.opportunities.pop(opportunity_id)
        self.deleted[opportunity_id] = {**opp, "deletedAt": at, "deletedBy": by}

    def add_interview(self, opportunity_id: str, interview_id: str, *, date: int, duration: int, created_at: int,
                      stage: str | None = None, canceled_at: int | None = None) -> dict[str, Any]:
        opp = self.opportunities[opportunity_id]
        interview = {
            "id": interview_id, "panel": f"panel-{interview_id}", "subject": "On-site", "note": "", "interviewers": [],
            "timezone": "America/New_York", "createdAt": created_at, "date": date, "duration": duration,
            "location": "Room 1", "feedbackTemplate": None, "feedbackForms": [], "feedbackReminder": "frequently",
            "user": None, "stage": stage or opp["stage"], "canceledAt": canceled_at,
            "postings": [a["posting"] for a in opp["applications"]],
        }
        self.interviews[opportunity_id].append(interview)
        return interview

    def add_feedback(self, opportunity_id: str, feedback_id: str, *, interview: str | None, completed_at: int) -> None:
        self.feedback[opportunity_id].append({
            "id": feedback_id, "type": "interview", "text": "On-site feedback", "instructions": "",
            "baseTemplateId": None, "fields": [], "user": None, "panel": None, "interview": interview,
            "createdAt": completed_at, "updatedAt": completed_at, "completedAt": completed_at, "deletedAt": None,
        })
        for iv in self.interviews[opportunity_id]:
            if iv["id"] == interview:
                iv["feedbackForms"].append(feedback_id)

    # -- routes ----------------------------------------------------------------------------------
    def _authorized(self, request: Recorded) -> bool:
        header = request.headers.get("authorization", "")
        expected = "Basic " + base64.b64encode(f"{self.api_key}:".encode()).decode()
        return header == expected

    def _answer(self, recorded: Recorded) -> Reply:
        if recorded.path.startswith("/v1/") and not self._authorized(recorded):
            with self._lock:
                self.requests.append(recorded)
            return Reply(401, {"code": "UnauthorizedError", "message": "Invalid API key"})
        return super()._answer(recorded)

    @staticmethod
    def _expand(request: Recorded) -> set[str]:
        return set(request.query.get("expand", []))

    def _render_opportunity(self, opp: dict[str, Any], expand: set[str]) -> dict[str, Any]:
        out = copy.deepcopy(opp)
        if "stage" in expand and isinstance(out["stage"], str):
            out["stage"] = self.stages.get(out["stage"], {"id": out["stage"], "text": out["stage"]})
        if "applications" not in expand:
            out["applications"] = [a["id"] for a in out["applications"]]
        return out

    def _paged(self, request: Recorded, items: list[dict[str, Any]]) -> Reply:
        limit = min(max(int(request.param("limit") or 100), 1), 100)
        offset = request.param("offset")
        start = json.loads(base64.urlsafe_b64decode(offset.encode()))[0] if offset else 0
        chunk = items[start:start + limit]
        body: dict[str, Any] = {"data": chunk, "hasNext": start + limit < len(items)}
        if body["hasNext"]:  # opaque like Lever's own token
            body["next"] = base64.urlsafe_b64encode(json.dumps([start + limit]).encode()).decode()
        return Reply(200, body)

    @staticmethod
    def _since(request: Recorded, name: str) -> int | None:
        value = request.param(name)
        return int(value) if value else None

    def _list_opportunities(self, request: Recorded, match: re.Match[str]) -> Reply:
        start, end = self._since(request, "updated_at_start"), self._since(request, "updated_at_end")
        expand = self._expand(request)
        found = [self._render_opportunity(o, expand) for o in self.opportunities.values()
                 if (start is None or (o["updatedAt"] or 0) >= start) and (end is None or (o["updatedAt"] or 0) <= end)]
        return self._paged(request, found)

    def _list_deleted(self, request: Recorded, match: re.Match[str]) -> Reply:
        start = self._since(request, "deleted_at_start")
        found = [self._render_opportunity(o, set()) for o in self.deleted.values()
                 if start is None or o["deletedAt"] >= start]
        return self._paged(request, found)

    def _get_opportunity(self, request: Recorded, match: re.Match[str]) -> Reply:
        opp = self.opportunities.get(match.group(1))
        if opp is None:
            return _not_found("Opportunity")
        return Reply(200, {"data": self._render_opportunity(opp, self._expand(request))})

    def _list_interviews(self, request: Recorded, match: re.Match[str]) -> Reply:
        if match.group(1) not in self.opportunities:
            return _not_found("Opportunity")
        items = copy.deepcopy(self.interviews.get(match.group(1), []))
        if "stage" in self._expand(request):
            for iv in items:
                iv["stage"] = self.stages.get(iv["stage"], {"id": iv["stage"], "text": iv["stage"]})
        return self._paged(request, items)

    def _list_feedback(self, request: Recorded, match: re.Match[str]) -> Reply:
        if match.group(1) not in self.opportunities:
            return _not_found("Opportunity")
        return self._paged(request, copy.deepcopy(self.feedback.get(match.group(1), [])))

    def _list_archive_reasons(self, request: Recorded, match: re.Match[str]) -> Reply:
        return self._paged(request, list(self.archive_reasons.values()))

    def _get_posting(self, request: Recorded, match: re.Match[str]) -> Reply:
        posting = self.postings.get(match.group(1))
        if posting is None:
            return _not_found("Posting")
        out = copy.deepcopy(posting)
        for field in ("hiringManager", "owner", "user"):
            if field in self._expand(request) and out.get(field) in self.users:
                out[field] = self.users[out[field]]
        return Reply(200, {"data": out})
