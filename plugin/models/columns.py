"""Column helpers every model shares: string enums stored as VARCHAR, UUID keys."""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import Enum


def string_enum(enum_cls: type[StrEnum]) -> Enum:
    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def new_uuid() -> str:
    return str(uuid.uuid4())
