"""Adapters by provider name (the `<provider>` segment of `/webhooks/<provider>/<connection_id>`)."""

from __future__ import annotations

from plugin.ats.base import Adapter

_ADAPTERS: dict[str, Adapter] = {}


def _load() -> dict[str, Adapter]:
    if not _ADAPTERS:
        from plugin.ats.ashby import AshbyAdapter
        from plugin.ats.greenhouse import GreenhouseAdapter
        from plugin.ats.lever import LeverAdapter
        from plugin.ats.workable import WorkableAdapter

        for adapter in (GreenhouseAdapter(), LeverAdapter(), AshbyAdapter(), WorkableAdapter()):
            _ADAPTERS[adapter.provider] = adapter
    return _ADAPTERS


def providers() -> list[str]:
    return sorted(_load())


def get(provider: str) -> Adapter | None:
    return _load().get(provider)
