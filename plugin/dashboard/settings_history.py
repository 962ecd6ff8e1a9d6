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
