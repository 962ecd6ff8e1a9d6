"""Configuration pages for admins: policy, per-job overrides, business calendar, sender identity.

Every form posts `action=preview` (the change is run inside a SAVEPOINT and rolled back, to show how
many open deadlines it would move) or `action=save` (applied, audited, deadlines recomputed, then
post-redirect-get with a flash). The rules live where the JSON API keeps them: `PolicySchema` and
`OrganizationPatchSchema` validate the values, `plugin.sla.config_changes` applies them. Bad input is
answered 400 with the message next to its field, what was typed kept, and nothing changed.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from flask import abort, flash, redirect, request, url_for
from marshmallow import Schema, ValidationError
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from plugin.dashboard import actor, bp, db, local_time, now, organization, page, require_admin, viewer
from plugin.dashboard.scope import visible_jobs
from plugin.models import Application, AuditEntry, Job, Obligation, ObligationState, Organization
from plugin.sla.config_changes import (
    CONFIG_ENTITIES,
    ChangeOutcome,
    ConfigError,
    preview,
    set_job_policy,
    set_organization_policy,
    set_publicly_advertised,
    update_organization,
)
from plugin.sla.config_schemas import OrganizationPatchSchema, PolicySchema
from plugin.sla.policy import DEFAULT_POLICY, merge_policy

PREVIEW_EXAMPLES = 10
RECENT_CHANGES = 50
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# -- what each policy field means ------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyField:
    name: str
    label: str
    hint: str
    kind: str  # days | optional_days | day_steps | minutes | time | switch
    group: str


POLICY_GROUPS = ("Deadlines", "Reminder ladder", "Decisions and closed jobs", "Send window")

POLICY_FIELDS: tuple[PolicyField, ...] = (
    PolicyField("first_update_working_days", "First update due",
                "Working days after an interview ends until the candidate must hear from us.", "days", "Deadlines"),
    PolicyField("promised_decision_grace_working_days", "Grace after a promised decision date",
                "When the candidate was promised a decision date, working days after it until the deadline.",
                "days", "Deadlines"),
    PolicyField("cadence_working_days", "Time between status updates",
                "After a person's status update or a contact the ATS reports, working days until the next news "
                "is due.", "days", "Deadlines"),
    PolicyField("recruiter_reminder_working_days_before", "Remind the recruiter",
                "Working days before the deadline the recruiter is reminded. Blank: no reminder.",
                "optional_days", "Reminder ladder"),
    PolicyField("hiring_manager_reminder_working_days_before", "Remind the hiring manager",
                "Working days before the deadline the hiring manager is reminded. Blank: no reminder.",
                "optional_days", "Reminder ladder"),
    PolicyField("reminder_time", "Reminder time",
                "Time of day reminders go out, in the organisation's time zone (24-hour HH:MM).", "time",
                "Reminder ladder"),
    PolicyField("autopilot_cadence_working_days", "Time between autopilot's updates",
                "When nobody acts and autopilot keeps writing, working days until its next update after the 1st, "
                "2nd, 3rd... update in a row, separated by commas; the last one repeats, and none may be shorter "
                "than the one before.", "day_steps", "Reminder ladder"),
    PolicyField("autopilot", "Autopilot",
                "When nobody acted, Ghostless sends the candidate a status update itself before the deadline. "
                "Off: the talent-ops lead is alerted instead and the breach is reported.", "switch",
                "Reminder ladder"),
    PolicyField("next_steps", "Next-steps message",
                "Right after an interview, thank the candidate and tell them the date they will hear by.", "switch",
                "Reminder ladder"),
    PolicyField("rejection_min_delay_working_days", "Minimum delay before a rejection is sent",
                "Working days a rejection waits after the ATS reports it (0: send in the next send window).",
                "days", "Decisions and closed jobs"),
    PolicyField("job_closed_hold_minutes", "Hold before job-closed notices",
                "Minutes to wait after a job closes before telling its candidates, so a reopen can cancel them.",
                "minutes", "Decisions and closed jobs"),
    PolicyField("send_window_start", "Send window opens",
                "Candidate emails go out on working days from this time, in the candidate's time zone (HH:MM).",
                "time", "Send window"),
    PolicyField("send_window_end", "Send window closes",
                "Candidate emails are not sent after this time (HH:MM); it must be later than the opening time.",
                "time", "Send window"),
)
FIELD_BY_NAME = {f.name: f for f in POLICY_FIELDS}

_INTEGER = re.compile(r"^[+-]?\d{1,9}$")


def show_value(kind: str, value: Any) -> str:
    """A policy value in words: '5 working days', 'no reminder', 'on'."""
    if kind == "switch":
        return "on" if value else "off"
    if kind == "optional_days" and value is None:
        return "no reminder"
    if kind in ("days", "optional_days"):
        return f"{value} working day{'' if value == 1 else 's'}"
    if kind == "minutes":
        return f"{value} minute{'' if value == 1 else 's'}"
    if kind == "day_steps":
        return ", then ".join(str(v) for v in value) + " working days" if value else ""
    return str(value)


def _steps_text(value: Any) -> str:
    """[5, 10, 15] as a person types it: "5, 10, 15"."""
    return ", ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)


def _steps(raw: str) -> list[Any]:
    """"5, 10, 15" as JSON would carry it (PolicySchema says what is wrong with any other part)."""
    return [_typed(part.strip()) for part in raw.split(",") if part.strip()]


# The job form's reminder choices (PolicySchema allows 0 to 30 working days before the deadline).
DAY_CHOICES = [(str(n), f"{show_value('days', n)} before") for n in range(31)]


class FormErrors(Exception):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid form")
        self.errors = errors


def _schema_errors(exc: ValidationError) -> dict[str, list[str]]:
    """marshmallow's messages, flattened to one list of strings per top-level field."""
    flat: dict[str, list[str]] = {}

    def walk(value: Any, into: list[str]) -> None:
        if isinstance(value, str):
            into.append(value)
        elif isinstance(value, Mapping):
            for nested in value.values():
                walk(nested, into)
        elif isinstance(value, (list, tuple)):
            for nested in value:
                walk(nested, into)

    messages = exc.messages if isinstance(exc.messages, Mapping) else {"_schema": exc.messages}
    for key, value in messages.items():
        walk(value, flat.setdefault(str(key), []))
    return flat


def _typed(raw: str) -> Any:
    """A form string as JSON would carry it: digits become an integer, anything else stays a string
    (so PolicySchema's strict integer fields say 'Not a valid integer.' about it)."""
    return int(raw) if _INTEGER.match(raw) else raw


def parse_organization_policy(form: MultiDict[str, str], current: Mapping[str, Any]) -> dict[str, Any]:
    """The organisation form shows every field; the override set keeps what differs from the default
    (and what was already overridden, so saving an untouched form changes nothing)."""
    data: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for spec in POLICY_FIELDS:
        raw = form.get(spec.name, "").strip()
        if spec.kind == "switch":
            data[spec.name] = spec.name in form
        elif raw == "" and spec.kind == "optional_days":
            data[spec.name] = None
        elif raw == "":
            errors[spec.name] = ["Enter a time as HH:MM." if spec.kind == "time" else "Enter a whole number."]
        elif spec.kind == "day_steps":
            data[spec.name] = _steps(raw)
        else:
            data[spec.name] = _typed(raw) if spec.kind != "time" else raw
    loaded = _load_policy(data, errors)
    defaults = DEFAULT_POLICY.to_dict()
    return {key: value for key, value in loaded.items() if key in current or value != defaults[key]}


def parse_job_policy(form: MultiDict[str, str]) -> dict[str, Any]:
    """The job form: a blank field (or "inherit") inherits from the organisation."""
    data: dict[str, Any] = {}
    for spec in POLICY_FIELDS:
        raw = form.get(spec.name, "").strip()
        if raw in ("", "inherit"):
            continue
        if spec.kind == "switch":
            data[spec.name] = {"on": True, "off": False}.get(raw, raw)
        elif spec.kind == "optional_days" and raw == "none":
            data[spec.name] = None
        elif spec.kind == "day_steps":
            data[spec.name] = _steps(raw)
        else:
            data[spec.name] = _typed(raw) if spec.kind != "time" else raw
    return _load_policy(data, {})


def _load(schema: Schema, data: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    """Validate with the API's own schema; its messages join the form's own (`errors`)."""
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        for key, messages in _schema_errors(exc).items():
            errors.setdefault(key, []).extend(messages)
        loaded = {}
    if errors:
        raise FormErrors(errors)
    return loaded


def _load_policy(data: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    return _load(PolicySchema(), data, errors)


def parse_publicly_advertised(form: MultiDict[str, str]) -> bool | None:
    raw = form.get("publicly_advertised", "")
    if raw not in ("", "yes", "no"):
        raise FormErrors({"publicly_advertised": ["Choose yes, no or not said."]})
    return {"": None, "yes": True, "no": False}[raw]


_CLOSURE_LINE = re.compile(r"^(\S+)(?:\s+(.*))?$")


def parse_closures(text: str) -> list[dict[str, Any]]:
    """One closure per line, "YYYY-MM-DD optional label"; blank lines are skipped."""
    closures: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        found = _CLOSURE_LINE.match(line)
        assert found is not None  # a non-empty stripped line always has a first word
        day, label = found.group(1), (found.group(2) or "").strip() or None
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
                raise ValueError
            date.fromisoformat(day)
        except ValueError:
            raise FormErrors({"closures": [f"Line {number} (\u201c{line[:60]}\u201d) does not start with a date: "
                                           "use YYYY-MM-DD, then an optional label."]}) from None
        if label is not None and len(label) > 200:
            raise FormErrors({"closures": [f"Line {number}: the label is longer than 200 characters."]})
        closures.append({"day": day, "label": label})
    return closures


def parse_calendar(form: MultiDict[str, str]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    weekdays: list[Any] = [_typed(d) for d in form.getlist("working_weekdays")]
    if not weekdays:
        errors["working_weekdays"] = ["Choose at least one working day."]
    try:
        closures = parse_closures(form.get("closures", ""))
    except FormErrors as exc:
        errors.update(exc.errors)
        closures = []
    timezone = form.get("timezone", "").strip()
    if not timezone:
        errors["timezone"] = ["Enter a time zone, e.g. America/New_York."]
    data = {
        "timezone": timezone or "UTC",
        "holiday_country": form.get("holiday_country", "").strip().upper() or None,
        "holiday_subdivision": form.get("holiday_subdivision", "").strip().upper() or None,
        "working_weekdays": weekdays or [0],
        "closures": closures,
    }
    return _load_organization(data, errors)


def parse_sender(form: MultiDict[str, str]) -> dict[str, Any]:
    data = {key: form.get(key, "").strip() or None for key in ("sender_name", "sender_email", "escalation_email")}
    return _load_organization(data, {})


def _load_organization(data: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    return _load(OrganizationPatchSchema(), data, errors)


# -- preview or save -------------------------------------------------------------------------------


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def moved_sentence(count: int) -> str:
    return f"{_plural(count, 'open deadline')} moved"


def _resubmission() -> list[tuple[str, str]]:
    """The posted values, for the preview's Save button to post them again unchanged."""
    return [(key, value) for key, value in request.form.items(multi=True) if key not in ("csrf_token", "action")]


def preview_or_save(change: Callable[[], ChangeOutcome], *, unchanged: bool, render: Callable[..., Any],
                    done: str, **done_values: Any) -> Any:
    """Run the posted action. `render(status, errors=..., preview=...)` shows the form again."""
    action = request.form.get("action", "save")
    session = db()
    if action == "preview":
        try:
            outcome = preview(session, change)
        except ConfigError as exc:
            return render(400, errors=exc.errors)
        return render(200, preview=outcome, resubmit=_resubmission())
    if action != "save":
        return render(400, errors={"_form": ["Choose Preview or Save."]})
    if unchanged:
        flash("Nothing to save: these are the values already in use.", "info")
        return redirect(url_for(done, **done_values))
    try:
        outcome = change()
    except ConfigError as exc:
        session.rollback()
        return render(400, errors=exc.errors)
    session.commit()
    flash(f"Saved. {moved_sentence(outcome.moved)}.", "info")
    return redirect(url_for(done, **done_values))


def _common() -> dict[str, Any]:
    return {"local": local_time, "moved_sentence": moved_sentence, "plural": _plural}


# -- pages -----------------------------------------------------------------------------------------


@bp.get("/settings")
def settings() -> str:
    require_admin()
    org = organization()
    return page("dashboard/settings.html", title="Settings", changes=recent_changes(org),
                effective=merge_policy(org.policy), overridden=set(org.policy or {}), fields=POLICY_FIELDS,
                show_value=show_value, weekday_names=_weekday_names(org.working_weekdays), **_common())


@bp.route("/settings/policy", methods=["GET", "POST"])
def settings_policy() -> Any:
    require_admin()
    org = organization()
    effective = merge_policy(org.policy).to_dict()

    def render(status: int, *, values: Mapping[str, Any] | None = None, errors: Mapping[str, list[str]] | None = None,
               preview: ChangeOutcome | None = None, resubmit: list[tuple[str, str]] | None = None) -> Any:
        return page("dashboard/settings_policy.html", title="Organisation policy", groups=POLICY_GROUPS,
                    fields=POLICY_FIELDS, values=values if values is not None else _policy_form_values(request.form),
                    errors=errors or {}, preview=preview, resubmit=resubmit, defaults=DEFAULT_POLICY.to_dict(),
                    overridden=set(org.policy or {}), show_value=show_value, **_common()), status

    if request.method == "GET":
        return render(200, values={key: _steps_text(value) if FIELD_BY_NAME.get(key) and
                                   FIELD_BY_NAME[key].kind == "day_steps" else _as_text(value)
                                   for key, value in effective.items()})
    try:
        overrides = parse_organization_policy(request.form, org.policy or {})
    except FormErrors as exc:
        return render(400, errors=exc.errors)
    session = db()
    return preview_or_save(
        lambda: set_organization_policy(session, org, overrides, actor=actor(), at=now(), examples=PREVIEW_EXAMPLES),
        unchanged=overrides == (org.policy or {}), render=render, done="dashboard.settings_policy")


def _as_text(value: Any) -> Any:
    return "" if value is None else value


def _policy_form_values(form: MultiDict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for spec in POLICY_FIELDS:
        values[spec.name] = (spec.name in form) if spec.kind == "switch" else form.get(spec.name, "")
    return values


@bp.get("/settings/jobs")
def settings_jobs() -> str:
    require_admin()
    org = organization()
    session = db()
    jobs = list(session.scalars(select(Job).where(visible_jobs(viewer()))
                                .order_by(Job.status, func.lower(func.coalesce(Job.title, Job.external_id)), Job.id)))
    open_counts = dict(session.execute(
        select(Application.job_id, func.count(Obligation.id))
        .join(Application, Obligation.application_id == Application.id)
        .join(Job, Application.job_id == Job.id)
        .where(visible_jobs(viewer()), Obligation.state == ObligationState.OPEN)
        .group_by(Application.job_id)).all())
    return page("dashboard/settings_jobs.html", title="Per-job overrides", jobs=jobs, open_counts=open_counts,
                summary=lambda job: _override_summary(job.policy_override or {}), org_policy=org.policy or {},
                **_common())


def _override_summary(overrides: Mapping[str, Any]) -> list[str]:
    return [f"{FIELD_BY_NAME[key].label}: {show_value(FIELD_BY_NAME[key].kind, value)}"
            for key, value in overrides.items() if key in FIELD_BY_NAME]


def _job_or_404(job_id: int) -> Job:
    job = db().scalar(select(Job).where(Job.id == job_id, visible_jobs(viewer())))
    if job is None:
        abort(404)
    return job


@bp.route("/settings/jobs/<int:job_id>", methods=["GET", "POST"])
def settings_job(job_id: int) -> Any:
    require_admin()
    org = organization()
    job = _job_or_404(job_id)
    inherited = merge_policy(org.policy).to_dict()

    def render(status: int, *, values: Mapping[str, Any] | None = None, errors: Mapping[str, list[str]] | None = None,
               preview: ChangeOutcome | None = None, resubmit: list[tuple[str, str]] | None = None) -> Any:
        return page("dashboard/settings_job.html", title=f"Overrides: {job.title or job.external_id}", job=job,
                    groups=POLICY_GROUPS, fields=POLICY_FIELDS,
                    values=values if values is not None else request.form.to_dict(),
                    errors=errors or {}, preview=preview, resubmit=resubmit, inherited=inherited, show_value=show_value,
                    day_choices=DAY_CHOICES, **_common()), status

    if request.method == "GET":
        return render(200, values=_job_form_values(job))
    try:
        overrides = parse_job_policy(request.form)
        advertised = parse_publicly_advertised(request.form)
    except FormErrors as exc:
        return render(400, errors=exc.errors)
    session = db()

    def change() -> ChangeOutcome:
        outcome = ChangeOutcome()
        if overrides != (job.policy_override or {}):
            outcome = set_job_policy(session, org, job, overrides, actor=actor(), at=now(), examples=PREVIEW_EXAMPLES)
        # No deadline depends on it (only the Ontario ESA report); audited when it changes.
        set_publicly_advertised(session, org, job, advertised, actor=actor(), at=now())
        return outcome

    unchanged = overrides == (job.policy_override or {}) and advertised is job.publicly_advertised
    return preview_or_save(change, unchanged=unchanged, render=render, done="dashboard.settings_job", job_id=job.id)


def _job_form_values(job: Job) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in (job.policy_override or {}).items():
        spec = FIELD_BY_NAME.get(key)
        if spec is None:
            continue
        if spec.kind == "switch":
            values[key] = "on" if value else "off"
        elif spec.kind == "optional_days" and value is None:
            values[key] = "none"
        elif spec.kind == "day_steps":
            values[key] = _steps_text(value)
        else:
            values[key] = str(value)
    values["publicly_advertised"] = {None: "", True: "yes", False: "no"}[job.publicly_advertised]
    return values


@bp.route("/settings/calendar", methods=["GET", "POST"])
def settings_calendar() -> Any:
    require_admin()
    org = organization()

    def render(status: int, *, values: Mapping[str, Any] | None = None, errors: Mapping[str, list[str]] | None = None,
               preview: ChangeOutcome | None = None, resubmit: list[tuple[str, str]] | None = None) -> Any:
        return page("dashboard/settings_calendar.html", title="Business calendar",
                    values=values if values is not None else _calendar_form_values(request.form),
                    errors=errors or {}, preview=preview, resubmit=resubmit, timezones=_timezones(), weekdays=WEEKDAYS,
                    **_common()), status

    if request.method == "GET":
        return render(200, values={
            "timezone": org.timezone, "holiday_country": org.holiday_country or "",
            "holiday_subdivision": org.holiday_subdivision or "",
            "working_weekdays": [d for d in org.working_weekdays.split(",") if d],
            "closures": "\n".join(f"{c.day.isoformat()} {c.label or ''}".rstrip() for c in org.closures),
        })
    try:
        changes = parse_calendar(request.form)
    except FormErrors as exc:
        return render(400, errors=exc.errors)
    session = db()
    return preview_or_save(
        lambda: update_organization(session, org, changes, actor=actor(), at=now(), examples=PREVIEW_EXAMPLES),
        unchanged=_calendar_unchanged(org, changes), render=render, done="dashboard.settings_calendar")


def _calendar_form_values(form: MultiDict[str, str]) -> dict[str, Any]:
    return {"timezone": form.get("timezone", ""), "holiday_country": form.get("holiday_country", ""),
            "holiday_subdivision": form.get("holiday_subdivision", ""),
            "working_weekdays": form.getlist("working_weekdays"), "closures": form.get("closures", "")}


def _calendar_unchanged(org: Organization, changes: Mapping[str, Any]) -> bool:
    closures = {c["day"]: c.get("label") for c in reversed(changes["closures"])}  # the first of a day wins
    return (changes["timezone"] == org.timezone
            and changes["holiday_country"] == org.holiday_country
            and changes["holiday_subdivision"] == org.holiday_subdivision
            and sorted(set(changes["working_weekdays"])) == [int(d) for d in org.working_weekdays.split(",") if d]
            and closures == {c.day: c.label for c in org.closures})


@lru_cache(maxsize=1)
def _timezones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def _weekday_names(stored: str) -> str:
    return ", ".join(WEEKDAYS[int(d)] for d in stored.split(",") if d)


@bp.route("/settings/sender", methods=["GET", "POST"])
def settings_sender() -> Any:
    require_admin()
    org = organization()

    def render(status: int, *, values: Mapping[str, Any] | None = None, errors: Mapping[str, list[str]] | None = None,
               preview: ChangeOutcome | None = None, resubmit: list[tuple[str, str]] | None = None) -> Any:
        return page("dashboard/settings_sender.html", title="Sender identity",
                    values=values if values is not None else request.form.to_dict(),
                    errors=errors or {}, preview=preview, resubmit=resubmit, **_common()), status

    if request.method == "GET":
        return render(200, values={"sender_name": org.sender_name or "", "sender_email": org.sender_email or "",
                                   "escalation_email": org.escalation_email or ""})
    try:
        changes = parse_sender(request.form)
    except FormErrors as exc:
        return render(400, errors=exc.errors)
    session = db()
    unchanged = all(changes[key] == getattr(org, key) for key in changes)
    return preview_or_save(
        lambda: update_organization(session, org, changes, actor=actor(), at=now(), examples=PREVIEW_EXAMPLES),
        unchanged=unchanged, render=render, done="dashboard.settings_sender")


# -- recent changes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeRow:
    at: datetime
    who: str
    what: str
    changes: list[tuple[str, str, str]]  # (setting, before, after)


ORG_ACTIONS = {"updated": "Organisation settings", "mail_settings_updated": "Mail settings",
               "inbound_secret_rotated": "Inbound mail secret"}
ORG_LABELS = {"name": "Name", "timezone": "Time zone", "holiday_country": "Holiday country",
              "holiday_subdivision": "Holiday subdivision", "working_weekdays": "Working days",
              "closures": "Closures", "sender_name": "Sender name", "sender_email": "From address",
              "escalation_email": "Escalation address", "publicly_advertised": "Publicly advertised"}


def recent_changes(org: Organization, limit: int = RECENT_CHANGES) -> list[ChangeRow]:
    session = db()
    entries = list(session.scalars(
        select(AuditEntry).where(AuditEntry.org_id == org.id, AuditEntry.entity.in_(CONFIG_ENTITIES))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)))
    job_ids = {e.entity_id.removeprefix("job:") for e in entries if e.entity in ("policy", "job")}
    titles = dict(session.execute(select(Job.external_id, func.coalesce(Job.title, Job.external_id))
                                  .where(Job.org_id == org.id, Job.external_id.in_(job_ids))).all()) if job_ids else {}
    rows = []
    for entry in entries:
        if entry.entity == "policy" and entry.entity_id == "organization":
            what, missing = "Organisation policy", "default"
        elif entry.entity == "policy":
            external = entry.entity_id.removeprefix("job:")
            what, missing = f"Policy of job {titles.get(external, external)} ({external})", "inherited"
        elif entry.entity == "job":
            what, missing = f"Job {titles.get(entry.entity_id, entry.entity_id)} ({entry.entity_id})", "not said"
        else:
            what, missing = ORG_ACTIONS.get(entry.action, entry.action.replace("_", " ")), "none"
        rows.append(ChangeRow(at=entry.at, who=entry.actor, what=what,
                              changes=_diff(entry.before or {}, entry.after or {}, missing)))
    return rows


def _diff(before: Mapping[str, Any], after: Mapping[str, Any], missing: str) -> list[tuple[str, str, str]]:
    changed = []
    for key in list(before) + [k for k in after if k not in before]:
        if before.get(key, _ABSENT) == after.get(key, _ABSENT):
            continue
        label = FIELD_BY_NAME[key].label if key in FIELD_BY_NAME else ORG_LABELS.get(key, key.replace("_", " "))
        changed.append((label, _show_audited(key, before.get(key, _ABSENT), missing),
                        _show_audited(key, after.get(key, _ABSENT), missing)))
    return changed


_ABSENT = object()
DEFAULTS = DEFAULT_POLICY.to_dict()


def _show_audited(key: str, value: Any, missing: str) -> str:
    if value is _ABSENT:
        if missing == "default" and key in FIELD_BY_NAME:
            return f"{show_value(FIELD_BY_NAME[key].kind, DEFAULTS[key])} (default)"
        return f"({missing})"
    if key in FIELD_BY_NAME:
        return show_value(FIELD_BY_NAME[key].kind, value)
    if key == "working_weekdays" and isinstance(value, list):
        return ", ".join(WEEKDAYS[d] for d in value if isinstance(d, int) and 0 <= d < 7)
    if key == "closures" and isinstance(value, list):
        return "; ".join(f"{c.get('day')} {c.get('label') or ''}".strip() for c in value if isinstance(c, dict)) \
            or "none"
    if key == "publicly_advertised" and value is None:
        return "not said"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "not set"
    return str(value)
