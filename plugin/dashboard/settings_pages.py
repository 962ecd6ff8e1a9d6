"""Configuration pages for admins: policy, per-job overrides, business calendar, sender identity.

Every form posts `action=preview` (the change is run inside a SAVEPOINT and rolled back, to show how
many open deadlines it would move) or `action=save` (applied, audited, deadlines recomputed, then
post-redirect-get with a flash). The rules live where the JSON API keeps them: `PolicySchema` and
`OrganizationPatchSchema` validate the values, `plugin.sla.config_changes` applies them. Bad input is
answered 400 with the message next to its field, what was typed kept, and nothing changed.

The vocabulary of the fields is `settings_fields`, reading the posted forms is `settings_forms`,
and the list of recent changes is `settings_history`.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from flask import abort, flash, redirect, request, url_for
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from plugin.dashboard import actor, bp, db, local_time, now, organization, page, require_admin, viewer
from plugin.dashboard.i18n import gettext, ngettext
from plugin.dashboard.scope import visible_jobs
from plugin.dashboard.settings_fields import (
    FIELD_BY_NAME,
    POLICY_FIELDS,
    POLICY_GROUPS,
    WEEKDAYS,
    day_choices,
    show_value,
    steps_text,
)
from plugin.dashboard.settings_forms import (
    FormErrors,
    parse_calendar,
    parse_job_policy,
    parse_organization_policy,
    parse_publicly_advertised,
    parse_sender,
)
from plugin.dashboard.settings_history import recent_changes
from plugin.models import Application, Job, Obligation, ObligationState, Organization
from plugin.sla.config_changes import (
    ChangeOutcome,
    ConfigError,
    preview,
    set_job_policy,
    set_organization_policy,
    set_publicly_advertised,
    update_organization,
)
from plugin.sla.policy import DEFAULT_POLICY, merge_policy

PREVIEW_EXAMPLES = 10


# -- preview or save -------------------------------------------------------------------------------


def moved_sentence(count: int) -> str:
    return ngettext("%(num)d open deadline moved", "%(num)d open deadlines moved", count)


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
        return render(400, errors={"_form": [gettext("Choose Preview or Save.")]})
    if unchanged:
        flash(gettext("Nothing to save: these are the values already in use."), "info")
        return redirect(url_for(done, **done_values))
    try:
        outcome = change()
    except ConfigError as exc:
        session.rollback()
        return render(400, errors=exc.errors)
    session.commit()
    flash(gettext("Saved. %(moved)s.", moved=moved_sentence(outcome.moved)), "info")
    return redirect(url_for(done, **done_values))


def _common() -> dict[str, Any]:
    return {"local": local_time, "moved_sentence": moved_sentence}


# -- pages -----------------------------------------------------------------------------------------


@bp.get("/settings")
def settings() -> str:
    require_admin()
    org = organization()
    return page("dashboard/settings.html", title=gettext("Settings"), changes=recent_changes(org),
                effective=merge_policy(org.policy), overridden=set(org.policy or {}), fields=POLICY_FIELDS,
                show_value=show_value, weekday_names=_weekday_names(org.working_weekdays), **_common())


@bp.route("/settings/policy", methods=["GET", "POST"])
def settings_policy() -> Any:
    require_admin()
    org = organization()
    effective = merge_policy(org.policy).to_dict()

    def render(status: int, *, values: Mapping[str, Any] | None = None, errors: Mapping[str, list[str]] | None = None,
               preview: ChangeOutcome | None = None, resubmit: list[tuple[str, str]] | None = None) -> Any:
        return page("dashboard/settings_policy.html", title=gettext("Organisation policy"), groups=POLICY_GROUPS,
                    fields=POLICY_FIELDS, values=values if values is not None else _policy_form_values(request.form),
                    errors=errors or {}, preview=preview, resubmit=resubmit, defaults=DEFAULT_POLICY.to_dict(),
                    overridden=set(org.policy or {}), show_value=show_value, **_common()), status

    if request.method == "GET":
        return render(200, values={key: steps_text(value) if FIELD_BY_NAME.get(key) and
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
    return page("dashboard/settings_jobs.html", title=gettext("Per-job overrides"), jobs=jobs, open_counts=open_counts,
                summary=lambda job: _override_summary(job.policy_override or {}), org_policy=org.policy or {},
                **_common())


def _override_summary(overrides: Mapping[str, Any]) -> list[str]:
    return [gettext("%(setting)s: %(value)s", setting=FIELD_BY_NAME[key].label, value=show_value(FIELD_BY_NAME[key].kind, value))
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
        return page("dashboard/settings_job.html", title=gettext("Overrides: %(job)s", job=job.title or job.external_id),
                    job=job,
                    groups=POLICY_GROUPS, fields=POLICY_FIELDS,
                    values=values if values is not None else request.form.to_dict(),
                    errors=errors or {}, preview=preview, resubmit=resubmit, inherited=inherited, show_value=show_value,
                    day_choices=day_choices(), **_common()), status

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
            values[key] = steps_text(value)
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
        return page("dashboard/settings_calendar.html", title=gettext("Business calendar"),
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
    return ", ".join(str(WEEKDAYS[int(d)]) for d in stored.split(",") if d)


@bp.route("/settings/sender", methods=["GET", "POST"])
def settings_sender() -> Any:
    require_admin()
    org = organization()

    def render(status: int, *, values: Mapping[str, Any] | None = None, errors: Mapping[str, list[str]] | None = None,
               preview: ChangeOutcome | None = None, resubmit: list[tuple[str, str]] | None = None) -> Any:
        return page("dashboard/settings_sender.html", title=gettext("Sender identity"),
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
