"""Rendering limits on the templates an organisation writes (issue 13, item 2).

Before the limits, a 17-character override `{{ 'x' * 10**8 }}` cost 6-8 s and ~610 MB at every save,
preview and send. Each attack here is refused at save and at preview with a 422 naming the template
part and the limit, stores nothing, and stays within a few megabytes (tracemalloc's peak); an
override saved before the limits falls back to the packaged wording at send time.
"""

from __future__ import annotations

import logging
import time
import tracemalloc
from typing import Any, Callable

import pytest
from conftest import START, Org
from helpers import interview_done, sent
from sqlalchemy import func, select

from plugin import clock
from plugin.models import AuditEntry, NotificationKind, TemplateOverride
from plugin.notify.render import Override, TemplateLimitError, TemplateRenderer
from plugin.notify.samples import sample_context

PATH = "/api/v1/templates/next_steps/overrides/en"
PREVIEW = "/api/v1/templates/next_steps/preview?locale=en"
# Well below what any attack took before (hundreds of MB): Flask, SQLAlchemy and Jinja's compiler
# themselves allocate a few MB while answering.
MEMORY_CEILING = 30_000_000
# A guard that the request finishes at all, not a benchmark (tracemalloc slows Python several times).
FINISHES_WITHIN_SECONDS = 30

# name -> (field, template, the words the limit is named with)
ATTACKS: dict[str, tuple[str, str, str]] = {
    "repetition": ("body", "{{ 'x' * 10**8 }}", "100,000 characters"),
    "repetition in the subject": ("subject", "{{ 'x' * 10**8 }}", "100,000 characters"),
    "tower of powers": ("body", "{{ 10 ** (10 ** 10) }}", "bits"),
    "nested range loops": ("body", "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
                                   "{% endfor %}{% endfor %}{% endfor %}", "loop iterations"),
    "one huge range": ("body", "{% for a in range(10**9) %}{% endfor %}", "range()"),
    "join": ("body", "{{ range(1000)|join('x' * 100000) }}", "join"),
    "replace": ("body", "{% set s = 'x' * 50000 %}{{ s|replace('x', s) }}", "replace"),
    "format filter width": ("body", "{{ '%100000000s'|format('x') }}", "format"),
    "str.format width": ("body", "{{ '{:>100000000}'.format('x') }}", "str.format"),
    "center": ("body", "{{ 'x'.center(100000000) }}", "center"),
    "doubling with ~": ("body", "{% set s = 'xxxxxxxxxx' %}" + "{% set s = s ~ s %}" * 40 + "{{ s }}",
                        "concatenation"),
    "nested lists": ("body", "{% set a = range(100)|list %}" + "{% set a = [a, a] %}" * 40 + "{{ a }}",
                     "literal"),
    "list doubling in place": ("body", "{% set l = [1] %}{% for i in range(60) %}{{ l.extend(l) or '' }}"
                                       "{% endfor %}", "extend"),
    "output from a loop": ("body", "{% for i in range(1000) %}{% for j in range(9) %}" + "x" * 1000
                                   + "{% endfor %}{% endfor %}", "rendered text"),
    "output captured in a macro": ("body", "{% macro m() %}{% for i in range(1000) %}" + "y" * 1000
                                           + "{% endfor %}{% endmacro %}{{ m() }}", "block"),
    "exponential macro calls": ("body", "{% macro f(n) %}{% if n > 0 %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}"
                                        "{% endmacro %}{{ f(40) }}", ""),
}

LEGITIMATE = {
    "subject": "{{ candidate.first_name }}, your {{ job.title|default('interview', true) }}: next steps",
    "body": (
        "Dear {{ candidate.name }},\n\n"
        "{% set steps = ['feedback', 'review', 'decision'] %}"
        "{% for step in steps %}{{ loop.index }}. {{ step|capitalize }}\n{% endfor %}\n"
        "{% for i in range(2) %}{% for j in range(3) %}{{ i * 3 + j }}{% endfor %} {% endfor %}\n"
        "{{ '%s by %s'|format('A decision', due_date) }}. {{ '{} of {}'.format(1, 3) }}. "
        "{{ ('-' * 20) ~ '|' }} {{ [org.name, job.title]|join(' / ')|upper|replace('ACME', 'Acme') }} "
        "{{ 2 ** 10 }}"
    ),
}


def stored(rt: Any) -> int:
    with rt.db.session() as session:
        return session.scalar(select(func.count()).select_from(TemplateOverride)) or 0


def bounded(request: Callable[[], Any]) -> tuple[Any, int]:
    """Run `request`, returning its answer and the peak memory Python allocated meanwhile."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        answer = request()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < FINISHES_WITHIN_SECONDS
    return answer, peak


def store_directly(rt: Any, org: Org, field: str, source: str) -> None:
    """An override saved before the limits existed: written to the table, past the API's checks."""
    with rt.db.session() as session:
        session.add(TemplateOverride(org_id=org.id, kind=NotificationKind.NEXT_STEPS, locale="en",
                                     **{field: source}, updated_at=clock.now(), updated_by="before the limits"))


@pytest.mark.parametrize("name", list(ATTACKS))
def test_an_attack_is_refused_at_save_quickly_and_stores_nothing(org: Org, rt: Any, name: str) -> None:
    field, source, limit = ATTACKS[name]
    response, peak = bounded(lambda: org.client.put(PATH, json={field: source}, headers=org.headers))
    assert response.status_code == 422, response.get_json()
    answer = response.get_json()
    assert f"The {field} template goes past a rendering limit" in answer["message"]
    assert limit in answer["message"] and "nothing was changed" in answer["message"]
    assert list(answer["errors"]["json"]) == [field]
    assert peak < MEMORY_CEILING, f"{peak:,} bytes"
    assert stored(rt) == 0


@pytest.mark.parametrize("name", list(ATTACKS))
def test_a_stored_attack_is_refused_at_preview_quickly(org: Org, rt: Any, name: str) -> None:
    field, source, limit = ATTACKS[name]
    store_directly(rt, org, field, source)
    response, peak = bounded(lambda: org.client.get(PREVIEW, headers=org.headers))
    assert response.status_code == 422, response.get_json()
    answer = response.get_json()
    assert f"The {field} template goes past a rendering limit" in answer["message"] and limit in answer["message"]
    assert list(answer["errors"]["json"]) == [field]
    assert peak < MEMORY_CEILING, f"{peak:,} bytes"


def test_a_legitimate_override_with_loops_and_filters_saves_and_previews(org: Org, rt: Any) -> None:
    org.put(PATH, LEGITIMATE)
    preview = org.get(PREVIEW)
    assert preview["subject"] == "Ada, your Backend Engineer: next steps"
    assert preview["text"].startswith(
        "Dear Ada Lovelace,\n\n1. Feedback\n2. Review\n3. Decision\n012 345 A decision by Monday 16 November. "
        "1 of 3. --------------------| Acme / BACKEND ENGINEER 1024\n")
    assert stored(rt) == 1


def test_the_limits_sit_exactly_where_the_readme_says() -> None:
    """Each limit lets its own value through and refuses one more (raising a limit turns this red)."""
    renderer = TemplateRenderer()
    context = sample_context("next_steps", "en")

    def body(source: str) -> str:
        return renderer.render("next_steps", "en", context, Override(body=source)).text

    def refused(source: str, part: str = "body") -> str:
        with pytest.raises(TemplateLimitError) as info:
            body(source)
        assert info.value.part == part
        return info.value.limit

    assert "100000" in body("{{ ('x' * 100000)|length }}")
    assert "100,000 characters" in refused("{{ 'x' * 100001 }}")
    assert "1000 items" in body("{{ range(1000)|length }} items")
    assert "range()" in refused("{{ range(1001)|length }}")
    ten_thousand = "{% for a in range(100) %}{% for b in range(99) %}{% endfor %}{% endfor %}"
    assert body(ten_thousand)  # 100 + 9,900 iterations
    assert "10,000 loop iterations" in refused(ten_thousand.replace("range(99)", "range(100)"))
    assert body("{{ (10 ** 1000) % 7 }}")
    assert "bits" in refused("{{ (10 ** 1001) % 7 }}")
    calls = "{% for i in range(99) %}" + "{{ 'a'.upper() }}" * 101 + "{% endfor %}"  # range() is one more
    assert body(calls)
    assert "10,000 calls" in refused(calls.replace("{% endfor %}", "{{ 'a'.upper() }}{% endfor %}"))


def test_a_slow_template_is_stopped_by_the_clock() -> None:
    """Within every size and count limit, but 10,000 times a regex over 90,000 characters: the
    deadline (1 s of CPU a part) stops it long before it would finish."""
    renderer = TemplateRenderer()
    slow = ("{% set s = 'word ' * 18000 %}{% for i in range(100) %}{% for j in range(100) %}"
            "{% if s|wordcount < 0 %}never{% endif %}{% endfor %}{% endfor %}")
    started = time.monotonic()
    with pytest.raises(TemplateLimitError, match=r"more than 1 s of CPU time") as info:
        renderer.render("next_steps", "en", sample_context("next_steps", "en"), Override(body=slow))
    assert info.value.part == "body"
    assert time.monotonic() - started < FINISHES_WITHIN_SECONDS


@pytest.mark.parametrize("name", ["repetition", "nested range loops", "repetition in the subject"])
def test_an_override_stored_before_the_limits_falls_back_at_send(org: Org, rt: Any, tick: Any, outbox: Any,
                                                                  caplog: pytest.LogCaptureFixture,
                                                                  name: str) -> None:
    field, source, _ = ATTACKS[name]
    store_directly(rt, org, field, source)
    org.post(interview_done(START))
    with caplog.at_level(logging.WARNING, logger="plugin.notify.compose"):
        tick()
    [mail] = outbox()
    assert mail["Subject"].startswith("Thank you for interviewing with us")  # the packaged wording
    text = mail.get_body(("plain",)).get_content()
    assert "What happens next" in text and "/status/" in text and "xxxxx" not in text
    [notification] = sent(rt.db, "next_steps")
    assert notification.body_text == text  # what was stored is what was sent
    with rt.db.session() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.entity == "template_override")).all()
        assert (entry.entity_id, entry.action) == ("next_steps/en", "fell_back")
        assert entry.after["notification_id"] == notification.id
        assert f"The {field} template goes past a rendering limit" in entry.after["error"]
    [record] = [r for r in caplog.records if "packaged template instead" in r.getMessage()]
    assert f"The {field} template goes past a rendering limit" in record.getMessage()

