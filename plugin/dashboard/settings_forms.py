"""The settings forms as the JSON API would receive them: the posted strings become typed values,
`PolicySchema` and `OrganizationPatchSchema` validate them, and every message lands next to its
field (`FormErrors`). Nothing here changes the database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from marshmallow import Schema, ValidationError
from werkzeug.datastructures import MultiDict

from plugin.dashboard.i18n import gettext
from plugin.dashboard.settings_fields import POLICY_FIELDS
from plugin.sla.config_schemas import OrganizationPatchSchema, PolicySchema
from plugin.sla.policy import DEFAULT_POLICY

_INTEGER = re.compile(r"^[+-]?\d{1,9}$")


def _steps(raw: str) -> list[Any]:
    """"5, 10, 15" as JSON would carry it (PolicySchema says what is wrong with any other part)."""
    return [_typed(part.strip()) for part in raw.split(",") if part.strip()]


class FormErrors(Exception):
    """The messages about a posted form, per field; raised before anything is changed."""

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
            errors[spec.name] = [gettext("Enter a time as HH:MM.") if spec.kind == "time" else gettext("Enter a whole number.")]
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
        raise FormErrors({"publicly_advertised": [gettext("Choose yes, no or not said.")]})
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
            raise FormErrors({"closures": [gettext("Line %(number)s (\u201c%(line)s\u201d) does not start with a date: "
                                                   "use YYYY-MM-DD, then an optional label.",
                                                   number=number, line=line[:60])]}) from None
        if label is not None and len(label) > 200:
            raise FormErrors({"closures": [gettext("Line %(number)s: the label is longer than 200 characters.",
                                                   number=number)]})
        closures.append({"day": day, "label": label})
    return closures


def parse_calendar(form: MultiDict[str, str]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    weekdays: list[Any] = [_typed(d) for d in form.getlist("working_weekdays")]
    if not weekdays:
        errors["working_weekdays"] = [gettext("Choose at least one working day.")]
    try:
        closures = parse_closures(form.get("closures", ""))
    except FormErrors as exc:
        errors.update(exc.errors)
        closures = []
    timezone = form.get("timezone", "").strip()
    if not timezone:
        errors["timezone"] = [gettext("Enter a time zone, e.g. America/New_York.")]
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
