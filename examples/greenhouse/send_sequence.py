#!/usr/bin/env python3
"""Post a realistic, correctly signed Greenhouse webhook sequence to a running Ghostless.

One job ("Backend Engineer"), three candidates, as Greenhouse would send it:
  new_candidate_application x3 -> candidate_stage_change x3 (to "Technical Interview")
  -> reject_candidate (Ada) -> hire_candidate (Grace) -> job_updated with status "closed" (Alan is
  still open: he gets the closing notice after the hold).

Greenhouse has no interview webhook: Ghostless learns interviews from the Harvest poll. So that this
script shows the whole round without Harvest credentials, it reports the three interviews through
the generic events API (`--api-key`); leave it out and only the webhooks are sent.

Only the standard library: copy this folder anywhere. The payloads in payloads/ are Greenhouse's own
documentation examples, with ids, names and times replaced.

    ghostless serve &                                   # or any running instance
    curl -s -X POST localhost:5000/api/v1/connections -H "Authorization: Bearer $KEY" \
         -H 'Content-Type: application/json' \
         -d '{"provider": "greenhouse", "signing_secret": "change-me-please"}'
    python examples/greenhouse/send_sequence.py --webhook-url <webhook_url from the answer> \
         --secret change-me-please --api-key $KEY
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import hmac
import json
import sys
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PAYLOADS = Path(__file__).parent / "payloads"
JOB = {"id": 4001, "name": "Backend Engineer", "department": "Engineering"}
PEOPLE = [  # (candidate id, application id, first, last, email)
    (71001, 81001, "Ada", "Lovelace", "ada.lovelace@example.com"),
    (71002, 81002, "Grace", "Hopper", "grace.hopper@example.com"),
    (71003, 81003, "Alan", "Turing", "alan.turing@example.com"),
]


def template(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def application_payload(action: str, person: tuple, at: datetime, *, stage: str, status: str = "active") -> dict:
    candidate_id, application_id, first, last, email = person
    body = template(action)
    app = body["payload"]["application"]
    app.update(id=application_id, status=status, last_activity_at=iso(at),
               url=f"https://app.greenhouse.io/people/{candidate_id}?application_id={application_id}")
    if "current_stage" in app:
        app["current_stage"] = {"id": 9000 + len(stage), "name": stage, "interviews": []}
    candidate = app["candidate"]
    candidate.update(id=candidate_id, first_name=first, last_name=last,
                     email_addresses=[{"value": email, "type": "personal"}])
    jobs = app.get("jobs") or []
    for job in jobs[:1]:
        job.update(id=JOB["id"], name=JOB["name"], status="open", closed_at=None,
                   departments=[{"id": 1, "name": JOB["department"], "external_id": None}])
    app["jobs"] = jobs[:1]
    if "job" in app:
        app["job"] = copy.deepcopy(jobs[0]) if jobs else {"id": JOB["id"], "name": JOB["name"]}
    return body


def sequence(now: datetime) -> list[tuple[str, dict]]:
    steps: list[tuple[str, dict]] = []
    for person in PEOPLE:
        steps.append(("new_candidate_application",
                      application_payload("new_candidate_application", person, now - timedelta(days=7),
                                          stage="Application Review")))
    for person in PEOPLE:
        steps.append(("candidate_stage_change",
                      application_payload("candidate_stage_change", person, now - timedelta(days=3),
                                          stage="Technical Interview")))
    rejected = application_payload("reject_candidate", PEOPLE[0], now, stage="Technical Interview", status="rejected")
    rejected["payload"]["application"].update(rejected_at=iso(now),
                                              rejection_reason={"id": 14, "name": "Not the right fit this time",
                                                                "type": {"id": 3, "name": "Wrong skill set"}})
    steps.append(("reject_candidate", rejected))
    hired = application_payload("hire_candidate", PEOPLE[1], now, stage="Offer", status="hired")
    offer = hired["payload"]["application"]["offer"]  # the hire webhook fires when the offer is accepted
    offer.update(created_at=iso(now - timedelta(days=1)), sent_at=(now - timedelta(days=1)).date().isoformat(),
                 resolved_at=iso(now), starts_at=(now + timedelta(days=30)).date().isoformat())
    steps.append(("hire_candidate", hired))
    job = template("job_updated")
    job["payload"]["job"].update(id=JOB["id"], name=JOB["name"], status="closed", closed_at=iso(now),
                                 departments=[{"id": 1, "name": JOB["department"], "external_id": None}])
    steps.append(("job_updated", job))
    return steps


def interviews(now: datetime) -> list[dict]:
    """What the Harvest poll would find: the three interviews ended two days ago."""
    events = []
    for index, (candidate_id, application_id, first, last, email) in enumerate(PEOPLE):
        ends = now - timedelta(days=2, hours=index)
        events.append({
            "id": f"example-interview-{application_id}", "type": "interview.scheduled", "occurred_at": iso(ends - timedelta(days=1)),
            "candidate": {"id": str(candidate_id), "name": f"{first} {last}", "email": email, "locale": "en"},
            "job": {"id": str(JOB["id"]), "title": JOB["name"], "department": JOB["department"],
                    "hiring_manager": {"name": "Hedy Lamarr", "email": "hedy@corp.example"},
                    "recruiter": {"name": "Katherine Johnson", "email": "katherine@corp.example"}},
            "application": {"id": str(application_id)},
            "interview": {"id": f"example-{application_id}", "starts_at": iso(ends - timedelta(hours=1)),
                          "ends_at": iso(ends), "stage": "Technical Interview"},
        })
    return events


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--webhook-url", required=True, help="the connection's webhook_url")
    parser.add_argument("--secret", required=True, help="the connection's signing secret")
    parser.add_argument("--api-key", help="organisation API key: also report the three interviews through /api/v1/events "
                             "(Greenhouse has no interview webhook; the Harvest poll finds them)")
    parser.add_argument("--now", type=datetime.fromisoformat, default=None,
                        help="pretend it is this instant (ISO 8601 with offset); default: now")
    args = parser.parse_args()
    now = (args.now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    base = args.webhook_url.split("/webhooks/")[0]

    if args.api_key:
        body = json.dumps({"events": interviews(now)}).encode()
        status, text = post(f"{base}/api/v1/events", body, {"Content-Type": "application/json",
                                                             "Authorization": f"Bearer {args.api_key}"})
        print(f"{status}  interviews via /api/v1/events (stored; a worker applies them): {text.strip()[:120]}")
        if status != 202:
            return 1
    for action, payload in sequence(now):
        body = json.dumps(payload).encode()
        signature = hmac.new(args.secret.encode(), body, hashlib.sha256).hexdigest()
        status, text = post(args.webhook_url, body, {
            "Content-Type": "application/json", "Signature": f"sha256 {signature}",
            "Greenhouse-Event-ID": str(uuid.uuid4()), "User-Agent": "Greenhouse-Webhooks-Example",
        })
        print(f"{status}  {action:<26} {text.strip()[:100]}")
        if status != 200:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
