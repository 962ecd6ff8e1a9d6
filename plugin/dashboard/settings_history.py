"""Recent changes to the configuration, for the settings page: who changed what, from what to
what, read from the audit log and worded with the settings' own labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from plugin.dashboard import db
from plugin.dashboard.i18n import gettext, lazy_gettext
from plugin.dashboard.settings_fields import FIELD_BY_NAME, WEEKDAYS, show_value
from plugin.models import AuditEntry, Job, Organization
from plugin.sla.config_changes import CONFIG_ENTITIES
from plugin.sla.policy import DEFAULT_POLICY

RECENT_CHANGES = 50


@dataclass(frozen=True)
class ChangeRow:
    at: datetime
    who: str
    what: str
    changes: list[tuple[str, str, str]]  # (setting, before, after)


ORG_ACTIONS = {"updated": lazy_gettext("Organisation settings"), "mail_settings_updated": lazy_gettext("Mail settings"),
               "inbound_secret_rotated": lazy_gettext("Inbound mail secret")}
ORG_LABELS = {"name": lazy_gettext("Name"), "timezone": lazy_gettext("Time zone"),
              "holiday_country": lazy_gettext("Holiday country"),
              "holiday_subdivision": lazy_gettext("Holiday subdivision"), "working_weekdays": lazy_gettext("Working days"),
              "closures": lazy_gettext("Closures"), "sender_name": lazy_gettext("Sender name"),
              "sender_email": lazy_gettext("From address"), "escalation_email": lazy_gettext("Escalation address"),
              "publicly_advertised": lazy_gettext("Publicly advertised")}


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
            what, missing = gettext("Organisation policy"), "default"
        elif entry.entity == "policy":
            external = entry.entity_id.removeprefix("job:")
            what = gettext("Policy of job %(job)s (%(id)s)", job=titles.get(external, external), id=external)
            missing = "inherited"
        elif entry.entity == "job":
            what = gettext("Job %(job)s (%(id)s)", job=titles.get(entry.entity_id, entry.entity_id), id=entry.entity_id)
            missing = "not said"
        else:
            what, missing = str(ORG_ACTIONS.get(entry.action, entry.action.replace("_", " "))), "none"
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
# What a value the audit entry does not hold means, by the kind of entity (the keys are not shown).
MISSING_WORDS = {"default": lazy_gettext("default"), "inherited": lazy_gettext("inherited"),
                 "not said": lazy_gettext("not said"), "none": lazy_gettext("none")}


def _show_audited(key: str, value: Any, missing: str) -> str:
    if value is _ABSENT:
        if missing == "default" and key in FIELD_BY_NAME:
            return gettext("%(value)s (default)", value=show_value(FIELD_BY_NAME[key].kind, DEFAULTS[key]))
        return f"({MISSING_WORDS[missing]})"
    if key in FIELD_BY_NAME:
        return show_value(FIELD_BY_NAME[key].kind, value)
    if key == "working_weekdays" and isinstance(value, list):
        return ", ".join(str(WEEKDAYS[d]) for d in value if isinstance(d, int) and 0 <= d < 7)
    if key == "closures" and isinstance(value, list):
        return "; ".join(f"{c.get('day')} {c.get('label') or ''}".strip() for c in value if isinstance(c, dict)) \
            or gettext("none")
    if key == "publicly_advertised" and value is None:
        return gettext("not said")
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if value is None:
        return gettext("not set")
    return str(value)
