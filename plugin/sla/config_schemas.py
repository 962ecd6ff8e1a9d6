"""The schemas that validate a configuration change before `config_changes` applies it.

One definition for both faces: the JSON API (`PATCH /api/v1/organization`, `PUT .../policy`) and the
dashboard's settings forms validate with these same schemas, so a rule and its message are the same
wherever an admin meets them. What needs the stored state to check (the calendar, the send window
against the holidays) is checked in `config_changes`.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from plugin.sla.policy import DEFAULT_POLICY, parse_hhmm

_HHMM = validate.Regexp(re.compile(r"^([01]\d|2[0-3]):[0-5]\d$"), error="Use 24-hour HH:MM, e.g. 09:00.")


class StrictBoolean(fields.Boolean):
    """JSON true/false only: 1, 0, "yes" and "true" are refused rather than guessed."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value


def _days(maximum: int, allow_none: bool = False) -> fields.Integer:
    return fields.Integer(validate=validate.Range(min=0 if allow_none else 1, max=maximum), allow_none=allow_none,
                          strict=True)


class PolicySchema(Schema):
    """Every field optional; unknown fields are refused (a typo must not be silently ignored)."""

    class Meta:
        unknown = RAISE

    first_update_working_days = _days(60)
    promised_decision_grace_working_days = fields.Integer(validate=validate.Range(min=0, max=30), strict=True)
    cadence_working_days = _days(60)
    autopilot_cadence_working_days = fields.List(
        fields.Integer(validate=validate.Range(min=1, max=60), strict=True),
        validate=validate.Length(min=1, max=6),
        metadata={"description": "Working days until the next news after autopilot's 1st, 2nd, ... update in a row "
                                 "(the last entry repeats); default [5, 10, 15]. Must not shrink."})
    recruiter_reminder_working_days_before = _days(30, allow_none=True)
    hiring_manager_reminder_working_days_before = _days(30, allow_none=True)
    reminder_time = fields.String(validate=_HHMM)
    autopilot = StrictBoolean()
    next_steps = StrictBoolean()
    rejection_min_delay_working_days = fields.Integer(validate=validate.Range(min=0, max=30), strict=True)
    job_closed_hold_minutes = fields.Integer(validate=validate.Range(min=0, max=7 * 24 * 60), strict=True)
    send_window_start = fields.String(validate=_HHMM)
    send_window_end = fields.String(validate=_HHMM)

    @validates_schema
    def cadence_never_shrinks(self, data: dict[str, Any], **_kwargs: Any) -> None:
        steps = data.get("autopilot_cadence_working_days")
        if steps and any(later < earlier for earlier, later in zip(steps, steps[1:])):
            # A candidate nobody answers must not be written to more and more often.
            raise ValidationError("Each step must be at least as long as the one before, e.g. [5, 10, 15].",
                                  "autopilot_cadence_working_days")

    @validates_schema
    def window_order(self, data: dict[str, Any], **_kwargs: Any) -> None:
        start = data.get("send_window_start", DEFAULT_POLICY.send_window_start)
        end = data.get("send_window_end", DEFAULT_POLICY.send_window_end)
        try:
            if parse_hhmm(start) >= parse_hhmm(end):
                raise ValidationError("The send window must end after it starts.", "send_window_end")
        except ValueError:
            pass  # the field validators already reported the format


class ClosureSchema(Schema):
    class Meta:
        unknown = RAISE

    day = fields.Date(required=True)
    label = fields.String(validate=validate.Length(max=200), allow_none=True)


class OrganizationPatchSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(validate=validate.Length(min=1, max=200))
    timezone = fields.String(validate=validate.Length(min=1, max=64))
    holiday_country = fields.String(validate=validate.Length(min=2, max=8), allow_none=True)
    holiday_subdivision = fields.String(validate=validate.Length(min=1, max=16), allow_none=True)
    working_weekdays = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=0, max=6)),
        validate=validate.Length(min=1, max=7), metadata={"description": "Monday=0 ... Sunday=6"},
    )
    closures = fields.List(fields.Nested(ClosureSchema), validate=validate.Length(max=1000),
                           metadata={"description": "Replaces the whole list of closure dates"})
    sender_name = fields.String(validate=validate.Length(max=200), allow_none=True)
    sender_email = fields.Email(allow_none=True)
    escalation_email = fields.Email(allow_none=True)
