"""Configuration pages for admins: policy, per-job overrides, business calendar, sender identity.

Each change goes through plugin.sla.config_changes (the code the JSON API uses): audited with the
signed-in user, open deadlines recomputed, a preview that changes nothing, bad input refused with the
message next to its field.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from conftest import Org
from dashboard_support import add_user, csrf_token, sign_in, submit
from helpers import interview_done, obligations
from sqlalchemy import func, select

from plugin.models import AuditEntry, Job, Organization
from plugin.sla.policy import DEFAULT_POLICY

ENDED = datetime(2026, 11, 6, 20, 0, tzinfo=UTC)  # Fri 15:00 New York
DUE = datetime(2026, 11, 16, 22, 0, tzinfo=UTC)  # Mon 16 Nov 17:00 New York (Veterans Day skipped)
DUE_AFTER_10 = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)  # 10 working days: Mon 23 Nov 17:00 New York
ADMIN = "ada@acme.example"

POLICY = "/dashboard/settings/policy"
CALENDAR = "/dashboard/settings/calendar"
SENDER = "/dashboard/settings/sender"
JOBS = "/dashboard/settings/jobs"


@pytest.fixture
def admin(rt, org, client):  # type: ignore[no-untyped-def]
    add_user(rt, org.id, ADMIN, "admin")
    sign_in(client, ADMIN)
    return ADMIN


def policy_form(**changes: Any) -> dict[str, Any]:
    """The policy form as the page shows it (the defaults), with `changes` typed in."""
    form: dict[str, Any] = {}
    for key, value in {**DEFAULT_POLICY.to_dict(), **changes}.items():
        if isinstance(value, bool):
            if value:
                form[key] = "on"
        elif isinstance(value, list):  # autopilot's growing cadence, typed as "5, 10, 15"
            form[key] = ", ".join(str(v) for v in value)
        else:
            form[key] = "" if value is None else str(value)
    return form


def audit_rows(rt) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    with rt.db.session() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def stored_org(rt, org_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with rt.db.session() as session:
        found = session.get(Organization, org_id)
        assert found is not None
        return {"policy": dict(found.policy or {}), "timezone": found.timezone, "country": found.holiday_country,
                "subdivision": found.holiday_subdivision, "weekdays": found.working_weekdays,
                "closures": [(c.day, c.label) for c in found.closures], "sender_email": found.sender_email,
                "escalation_email": found.escalation_email}


def job_row(rt, org_id: str, external_id: str) -> Job:  # type: ignore[no-untyped-def]
    with rt.db.session() as session:
        job = session.scalar(select(Job).where(Job.org_id == org_id, Job.external_id == external_id))
        assert job is not None
        return job


def text_of(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def assert_error_next_to(page: str, name: str, message: str) -> None:
    """The message is in the field's error paragraph, and the control points at it and is marked invalid."""
    found = re.search(rf'<p class="field-error" id="f-{re.escape(name)}-error">(.*?)</p>', page, re.S)
    assert found, f"no error shown for {name}"
    assert message in html.unescape(found.group(1)), (message, found.group(1))
    control = re.search(rf'<(?:input|select|textarea|fieldset)[^>]*id="f-{re.escape(name)}"[^>]*>', page, re.S)
    assert control, f"no control for {name}"
    assert f"f-{name}-error" in control.group(0)
    if not control.group(0).startswith("<fieldset"):
        assert 'aria-invalid="true"' in control.group(0)


def flashes(client: Any, path: str) -> str:
    return text_of(client.get(path))


# --- organisation policy ---------------------------------------------------------------------------


def test_policy_page_shows_every_field_with_its_effective_value_and_default(org, admin, client):
    org.put("/api/v1/policies/organization",
            {"cadence_working_days": 3, "recruiter_reminder_working_days_before": None})
    page = text_of(client.get(POLICY))
    for key in DEFAULT_POLICY.to_dict():
        assert f'id="f-{key}"' in page and f'for="f-{key}"' in page, key
    assert re.search(r'id="f-cadence_working_days"[^>]*value="3"', page)
    assert re.search(r'id="f-recruiter_reminder_working_days_before"[^>]*value=""', page)
    assert re.search(r'id="f-first_update_working_days"[^>]*value="5"', page)
    assert "Default: 5 working days. Set for this organisation." in page  # cadence
    assert "Default: 2 working days. Set for this organisation." in page  # recruiter reminder (now none)
    assert re.search(r'id="f-autopilot"[^>]*checked', page)


def test_policy_change_via_the_page_moves_the_open_deadline_as_the_api_would(org, admin, rt, client, clock):
    clock.set(ENDED)
    org.post(interview_done(ENDED))
    [before] = obligations(rt.db)
    assert before.due_at == DUE
    response = submit(client, POLICY, POLICY, {**policy_form(first_update_working_days=10), "action": "save"},
                      expect=302)
    assert response.headers["Location"].endswith(POLICY)
    assert "Saved. 1 open deadline moved." in flashes(client, POLICY)
    [after] = obligations(rt.db)
    assert after.due_at == DUE_AFTER_10  # what tests/api/test_api.py asserts for the same change through the API
    assert org.get("/api/v1/policies/organization")["overrides"] == {"first_update_working_days": 10}
    entry = [a for a in audit_rows(rt) if a.entity == "policy"][-1]
    assert (entry.actor, entry.entity_id, entry.before, entry.after) == (
        f"user:{ADMIN}", "organization", {}, {"first_update_working_days": 10})
    assert entry.at == ENDED
    [moved] = [a for a in audit_rows(rt) if a.entity == "obligation" and a.action == "recomputed"]
    assert moved.actor == f"user:{ADMIN}"
    # Saving the same values again changes nothing and audits nothing.
    count = len(audit_rows(rt))
    submit(client, POLICY, POLICY, {**policy_form(first_update_working_days=10), "action": "save"}, expect=302)
    assert "Nothing to save" in flashes(client, POLICY)
    assert len(audit_rows(rt)) == count


def test_a_deadline_that_already_passed_is_history_and_does_not_move(org, admin, rt, client, clock, tick):
    # Autopilot off and nobody wrote: the deadline passes and the breach is recorded. Raising the
    # policy's days afterwards must not rewrite that (nor hide the breach from the on-time rate).
    org.put("/api/v1/policies/organization", {"autopilot": False})
    clock.set(ENDED)
    org.post(interview_done(ENDED))
    tick(at=DUE + timedelta(minutes=1))
    [breached] = obligations(rt.db)
    assert (breached.breached_at, breached.breach_reason) == (DUE, "autopilot_off")
    response = submit(client, POLICY, POLICY,
                      {**policy_form(first_update_working_days=10, autopilot=False), "action": "save"}, expect=302)
    assert response.status_code == 302
    [after] = obligations(rt.db)
    assert (after.due_at, after.breached_at, after.breach_reason) == (DUE, DUE, "autopilot_off")


def test_preview_reports_the_count_and_examples_and_changes_nothing(org, admin, rt, client, clock):
    clock.set(ENDED)
    org.post(interview_done(ENDED, app="a-1", candidate="c-1", interview="i-1"))
    org.post(interview_done(ENDED, app="a-2", candidate="c-2", interview="i-2", name="Grace Brewster"))
    audits_before = [(a.id, a.entity, a.action) for a in audit_rows(rt)]
    response = submit(client, POLICY, POLICY, {**policy_form(first_update_working_days=10), "action": "preview"},
                      expect=200)
    page = text_of(response)
    assert "This change moves 2 open deadlines." in page
    assert "Ada Lovelace" in page and "Grace Brewster" in page
    assert "Mon 16 Nov 2026, 17:00" in page and "Mon 23 Nov 2026, 17:00" in page
    assert [ob.due_at for ob in obligations(rt.db)] == [DUE, DUE]
    assert [(a.id, a.entity, a.action) for a in audit_rows(rt)] == audits_before
    assert stored_org(rt, org.id)["policy"] == {}
    # The preview's Save button posts the same values again.
    preview_form = page[page.index('id="preview"'):]
    preview_form = preview_form[:preview_form.index("</form>")]
    values = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', preview_form))
    assert values["first_update_working_days"] == "10" and "action" not in values
    values.pop("csrf_token")
    saved = client.post(POLICY, data={**values, "action": "save", "csrf_token": csrf_token(page)})
    assert saved.status_code == 302
    assert "Saved. 2 open deadlines moved." in flashes(client, POLICY)
    assert [ob.due_at for ob in obligations(rt.db)] == [DUE_AFTER_10, DUE_AFTER_10]


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"first_update_working_days": "0"}, "first_update_working_days", "greater than or equal to 1"),
    ({"cadence_working_days": "abc"}, "cadence_working_days", "Not a valid integer."),
    ({"first_update_working_days": ""}, "first_update_working_days", "Enter a whole number."),
    ({"reminder_time": "9am"}, "reminder_time", "Use 24-hour HH:MM"),
    ({"send_window_start": "18:00", "send_window_end": "09:00"}, "send_window_end",
     "The send window must end after it starts."),
])
def test_invalid_policy_is_refused_next_to_the_field_and_changes_nothing(org, admin, rt, client, clock, changes,
                                                                       field, message):
    clock.set(ENDED)
    org.post(interview_done(ENDED))
    count = len(audit_rows(rt))
    for action in ("save", "preview"):
        response = submit(client, POLICY, POLICY, {**policy_form(), **changes, "action": action}, expect=400)
        page = response.get_data(as_text=True)
        assert_error_next_to(page, field, message)
        assert 'role="alert"' in page and "nothing was changed" in page
        for key, value in changes.items():  # what was typed is kept
            assert re.search(rf'id="f-{key}"[^>]*value="{re.escape(value)}"', page), key
    assert stored_org(rt, org.id)["policy"] == {}
    assert [ob.due_at for ob in obligations(rt.db)] == [DUE]
    assert len(audit_rows(rt)) == count


def test_missing_csrf_token_is_400_and_changes_nothing(org, admin, rt, client):
    response = client.post(POLICY, data={**policy_form(first_update_working_days=10), "action": "save"})
    assert response.status_code == 400
    response = client.post(f"{JOBS}/1", data={"first_update_working_days": "10", "action": "save"})
    assert response.status_code == 400
    assert stored_org(rt, org.id)["policy"] == {}
    assert [a for a in audit_rows(rt) if a.entity == "policy"] == []


# --- roles and organisations -----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["manager", "viewer"])
def test_managers_and_viewers_cannot_open_or_post_the_settings(org, rt, client, clock, role):
    clock.set(ENDED)
    org.post(interview_done(ENDED))
    add_user(rt, org.id, ADMIN, "admin")
    add_user(rt, org.id, "mo@acme.example", role, departments=["Engineering"])
    sign_in(client, "mo@acme.example")
    job_id = job_row(rt, org.id, "j-1").id
    pages = ["/dashboard/settings", POLICY, JOBS, f"{JOBS}/{job_id}", CALENDAR, SENDER]
    for path in pages:
        assert client.get(path).status_code == 403, path
    token = csrf_token(client.get("/dashboard/").get_data(as_text=True))
    for path, data in ((POLICY, policy_form(first_update_working_days=10)), (f"{JOBS}/{job_id}", {"autopilot": "off"}),
                       (CALENDAR, {"timezone": "UTC", "working_weekdays": "0"}), (SENDER, {"sender_name": "X"})):
        response = client.post(path, data={**data, "action": "save", "csrf_token": token})
        assert response.status_code == 403, path
    assert "Settings" not in client.get("/dashboard/").get_data(as_text=True).split("</nav>")[0]
    assert stored_org(rt, org.id)["policy"] == {} and job_row(rt, org.id, "j-1").policy_override == {}


def test_admin_of_another_organisation_cannot_touch_this_orgs_job(org, rt, client, clock):
    clock.set(ENDED)
    org.post(interview_done(ENDED))
    other = Org(rt, client, name="Other")
    other.post(interview_done(ENDED, app="o-1", candidate="oc-1", job="oj-1"))
    add_user(rt, other.id, "root@other.example", "admin")
    sign_in(client, "root@other.example")
    mine = job_row(rt, org.id, "j-1")
    assert client.get(f"{JOBS}/{mine.id}").status_code == 404
    token = csrf_token(client.get(JOBS).get_data(as_text=True))
    response = client.post(f"{JOBS}/{mine.id}", data={"first_update_working_days": "10", "publicly_advertised": "yes",
                                                        "action": "save", "csrf_token": token})
    assert response.status_code == 404
    listing = client.get(JOBS).get_data(as_text=True)
    assert "oj-1" in listing and f"{JOBS}/{mine.id}\"" not in listing
    after = job_row(rt, org.id, "j-1")
    assert after.policy_override == {} and after.publicly_advertised is None
    assert [ob.due_at for ob in obligations(rt.db) if ob.org_id == org.id] == [DUE]
    # ...and their policy and recent changes never show this organisation's.
    org.put("/api/v1/policies/organization", {"cadence_working_days": 3})
    overview = client.get("/dashboard/settings").get_data(as_text=True)
    assert "Time between status updates: 5 working days" in overview and "No configuration changes yet." in overview


# --- per-job overrides ----------------------------------------------------------------------------


def test_job_override_inherits_the_rest_and_saves_publicly_advertised(org, admin, rt, client, clock):
    clock.set(ENDED)
    org.post(interview_done(ENDED, app="a-1", candidate="c-1", job="j-1", interview="i-1"))
    org.post(interview_done(ENDED, app="a-2", candidate="c-2", job="j-2", interview="i-2"))
    org.put("/api/v1/policies/organization", {"cadence_working_days": 4, "autopilot": False})
    j1 = job_row(rt, org.id, "j-1")
    listing = text_of(client.get(JOBS))
    assert "inherits everything" in listing and f"{JOBS}/{j1.id}" in listing
    form_page = text_of(client.get(f"{JOBS}/{j1.id}"))
    assert re.search(r'id="f-first_update_working_days"[^>]*placeholder="5"', form_page)  # the inherited value
    assert re.search(r'id="f-cadence_working_days"[^>]*placeholder="4"', form_page)
    assert "Inherit (off)" in form_page  # autopilot, inherited from the organisation
    response = submit(client, f"{JOBS}/{j1.id}", f"{JOBS}/{j1.id}",
                      {"first_update_working_days": "10", "hiring_manager_reminder_working_days_before": "none",
                       "publicly_advertised": "yes", "action": "save"}, expect=302)
    assert response.headers["Location"].endswith(f"{JOBS}/{j1.id}")
    assert "Saved. 1 open deadline moved." in flashes(client, f"{JOBS}/{j1.id}")
    by_app = {ob.application_id: ob.due_at for ob in obligations(rt.db)}
    assert sorted(by_app.values()) == [DUE, DUE_AFTER_10]
    api = org.get("/api/v1/policies/jobs/j-1")
    assert api["overrides"] == {"first_update_working_days": 10, "hiring_manager_reminder_working_days_before": None}
    assert api["effective"]["cadence_working_days"] == 4 and api["effective"]["autopilot"] is False  # inherited
    assert org.get("/api/v1/policies/jobs/j-2")["overrides"] == {}
    assert job_row(rt, org.id, "j-1").publicly_advertised is True
    entries = {(a.entity, a.entity_id): a for a in audit_rows(rt) if a.entity in ("policy", "job")}
    assert entries[("policy", "job:j-1")].after == api["overrides"]
    assert entries[("policy", "job:j-1")].actor == f"user:{ADMIN}"
    advertised = entries[("job", "j-1")]
    assert (advertised.before, advertised.after, advertised.actor) == (
        {"publicly_advertised": None}, {"publicly_advertised": True}, f"user:{ADMIN}")
    listing = text_of(client.get(JOBS))
    assert "First update due: 10 working days" in listing and "Remind the hiring manager: no reminder" in listing
    # Blank again: the job inherits, its deadline comes back; "not publicly advertised" is a third state.
    submit(client, f"{JOBS}/{j1.id}", f"{JOBS}/{j1.id}", {"publicly_advertised": "no", "action": "save"}, expect=302)
    assert "Saved. 1 open deadline moved." in flashes(client, f"{JOBS}/{j1.id}")
    assert [ob.due_at for ob in obligations(rt.db)] == [DUE, DUE]
    assert job_row(rt, org.id, "j-1").policy_override == {} and job_row(rt, org.id, "j-1").publicly_advertised is False


def test_job_override_send_window_is_checked_against_the_organisation(org, admin, rt, client, clock):
    clock.set(ENDED)
    org.post(interview_done(ENDED))
    org.put("/api/v1/policies/organization", {"send_window_start": "10:00"})
    j1 = job_row(rt, org.id, "j-1")
    for action in ("preview", "save"):
        response = submit(client, f"{JOBS}/{j1.id}", f"{JOBS}/{j1.id}",
                          {"send_window_end": "09:30", "publicly_advertised": "yes", "action": action}, expect=400)
        assert_error_next_to(response.get_data(as_text=True), "send_window_end", "must end after it starts")
    after = job_row(rt, org.id, "j-1")
    assert after.policy_override == {} and after.publicly_advertised is None


def test_job_preview_changes_nothing(org, admin, rt, client, clock):
    clock.set(ENDED)
    org.post(interview_done(ENDED))
    j1 = job_row(rt, org.id, "j-1")
    count = len(audit_rows(rt))
    response = submit(client, f"{JOBS}/{j1.id}", f"{JOBS}/{j1.id}",
                      {"first_update_working_days": "10", "publicly_advertised": "yes", "action": "preview"},
                      expect=200)
    assert "This change moves 1 open deadline." in text_of(response)
    after = job_row(rt, org.id, "j-1")
    assert after.policy_override == {} and after.publicly_advertised is None
    assert [ob.due_at for ob in obligations(rt.db)] == [DUE] and len(audit_rows(rt)) == count


# --- business calendar ----------------------------------------------------------------------------


def calendar_form(**changes: Any) -> dict[str, Any]:
    return {"timezone": "America/New_York", "holiday_country": "US", "holiday_subdivision": "",
            "working_weekdays": ["0", "1", "2", "3", "4"], "closures": "", **changes}


def test_closure_via_the_page_moves_the_deadline_and_preview_does_not(org, admin, rt, client, clock):
    ended = datetime(2026, 11, 16, 20, 0, tzinfo=UTC)  # Mon 15:00 New York
    clock.set(ended)
    org.post(interview_done(ended))
    assert [ob.due_at for ob in obligations(rt.db)] == [datetime(2026, 11, 23, 22, 0, tzinfo=UTC)]
    page = text_of(client.get(CALENDAR))
    assert '<datalist id="timezones">' in page and '<option value="Europe/Berlin">' in page
    assert re.search(r'id="f-working_weekdays-4"[^>]*checked', page.replace("\n", " "))
    count = len(audit_rows(rt))
    form = calendar_form(closures="2026-11-18 Company offsite\n\n2026-12-24")
    response = submit(client, CALENDAR, CALENDAR, {**form, "action": "preview"}, expect=200)
    assert "This change moves 1 open deadline." in text_of(response)
    assert stored_org(rt, org.id)["closures"] == [] and len(audit_rows(rt)) == count
    submit(client, CALENDAR, CALENDAR, {**form, "action": "save"}, expect=302)
    assert "Saved. 1 open deadline moved." in flashes(client, CALENDAR)
    assert [ob.due_at for ob in obligations(rt.db)] == [datetime(2026, 11, 24, 22, 0, tzinfo=UTC)]
    assert stored_org(rt, org.id)["closures"] == [(date(2026, 11, 18), "Company offsite"), (date(2026, 12, 24), None)]
    [entry] = [a for a in audit_rows(rt) if a.entity == "organization"]
    assert entry.actor == f"user:{ADMIN}" and entry.before["closures"] == []
    assert entry.after["closures"][0] == {"day": "2026-11-18", "label": "Company offsite"}
    # A preview that removes the closures again is rolled back too (deleted rows come back).
    submit(client, CALENDAR, CALENDAR, {**calendar_form(closures=""), "action": "preview"}, expect=200)
    assert len(stored_org(rt, org.id)["closures"]) == 2
    assert "2026-11-18 Company offsite" in text_of(client.get(CALENDAR))


def test_four_day_week_and_subdivision_are_saved(org, admin, rt, client):
    form = calendar_form(working_weekdays=["0", "1", "2", "3"], holiday_subdivision="ny")
    submit(client, CALENDAR, CALENDAR, {**form, "action": "save"}, expect=302)
    stored = stored_org(rt, org.id)
    assert (stored["weekdays"], stored["subdivision"]) == ("0,1,2,3", "NY")
    assert org.get("/api/v1/organization")["working_weekdays"] == [0, 1, 2, 3]


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"holiday_country": "XX"}, "holiday_country", "Unknown holiday country 'XX'"),
    ({"holiday_subdivision": "ON"}, "holiday_subdivision", "Unknown subdivision 'ON' for country 'US'"),
    ({"timezone": "Mars/Olympus"}, "timezone", "Unknown time zone 'Mars/Olympus'"),
    ({"working_weekdays": []}, "working_weekdays", "Choose at least one working day."),
    ({"closures": "2026-11-18 Offsite\nnext friday: party"}, "closures", "Line 2"),
    ({"closures": "2026-02-30"}, "closures", "Line 1"),
])
def test_invalid_calendar_is_refused_next_to_the_field_and_changes_nothing(org, admin, rt, client, clock, changes,
                                                                         field, message):
    clock.set(ENDED)
    org.post(interview_done(ENDED))
    before, count = stored_org(rt, org.id), len(audit_rows(rt))
    for action in ("save", "preview"):
        response = submit(client, CALENDAR, CALENDAR, {**calendar_form(**changes), "action": action}, expect=400)
        page = response.get_data(as_text=True)
        assert_error_next_to(page, field, message)
        if field == "closures":
            assert html.escape(changes["closures"]) in page  # what was typed is kept
        elif field != "working_weekdays":
            assert f'value="{changes[field]}"' in page
    assert stored_org(rt, org.id) == before and len(audit_rows(rt)) == count
    assert [ob.due_at for ob in obligations(rt.db)] == [DUE]


# --- sender identity ------------------------------------------------------------------------------


def test_sender_identity_is_validated_and_saved(org, admin, rt, client):
    response = submit(client, SENDER, SENDER, {"sender_name": "Acme People", "sender_email": "not-an-address",
                                               "escalation_email": "ops@acme.example", "action": "save"}, expect=400)
    assert_error_next_to(response.get_data(as_text=True), "sender_email", "Not a valid email address.")
    assert stored_org(rt, org.id)["sender_email"] == "talent@acme.example"
    submit(client, SENDER, SENDER, {"sender_name": "Acme People", "sender_email": "people@acme.example",
                                    "escalation_email": "", "action": "save"}, expect=302)
    assert "Saved. 0 open deadlines moved." in flashes(client, SENDER)
    stored = stored_org(rt, org.id)
    assert (stored["sender_email"], stored["escalation_email"]) == ("people@acme.example", None)
    [entry] = [a for a in audit_rows(rt) if a.entity == "organization"]
    assert entry.actor == f"user:{ADMIN}"
    assert (entry.before["sender_email"], entry.after["sender_email"]) == ("talent@acme.example", "people@acme.example")


# --- recent changes -------------------------------------------------------------------------------


def test_recent_changes_show_who_when_and_only_what_changed(org, admin, rt, client, clock):
    clock.set(ENDED)
    org.post(interview_done(ENDED))
    submit(client, POLICY, POLICY, {**policy_form(first_update_working_days=10), "action": "save"}, expect=302)
    submit(client, SENDER, SENDER, {"sender_name": "Acme Talent", "sender_email": "people@acme.example",
                                    "escalation_email": "talent-ops@acme.example", "action": "save"}, expect=302)
    j1 = job_row(rt, org.id, "j-1")
    submit(client, f"{JOBS}/{j1.id}", f"{JOBS}/{j1.id}", {"publicly_advertised": "yes", "action": "save"}, expect=302)
    page = text_of(client.get("/dashboard/settings"))
    section = page[page.index("Recent changes"):]
    assert "When (America/New_York)" in section
    assert section.count(f"user:{ADMIN}") == 3
    assert "Fri 6 Nov 2026, 15:00 EST" in section  # ENDED in New York
    assert "Organisation policy" in section and "First update due</span>: 5 working days (default)" in section
    assert "10 working days" in section
    assert "From address</span>: talent@acme.example" in section and "people@acme.example" in section
    assert "Sender name" not in section and "Time zone" not in section  # unchanged keys are not listed
    assert "Job Backend Engineer (j-1)" in section and "Publicly advertised</span>: not said" in section
    # Obligation recomputations are not configuration changes.
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity == "obligation"))
    assert "recomputed" not in section
