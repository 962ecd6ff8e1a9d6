"""Resource limits for rendering email templates an organisation may write.

Jinja's `SandboxedEnvironment` stops a template from reaching Python internals, but not from spending
the process's memory and time: `{{ 'x' * 10**8 }}` builds 100 MB in one step, `10**10**10` computes
for hours, three nested `range(1000)` loops run a billion times. `BoundedSandbox` refuses, before it
happens, any step that would produce something larger than a real email ever needs:

- any value (text, list, the text of a nested structure) of more than `MAX_CHARS` characters or
  items, whether from `*`, `+`, `%`, `~`, `str.format`, a filter (`join`, `replace`, `indent`, ...) or
  a method (`center`, `expandtabs`, `extend`, ...); numbers of more than `MAX_INT_BITS` bits;
- more than `MAX_CHARS` characters written by one part (counting text written inside macros and
  `{% set %}` captures each time), more than `MAX_RANGE` items from one `range()`, more than
  `MAX_LOOP_ITERATIONS` loop iterations and `MAX_CALLS` calls (macros, methods) in one part;
- more than `MAX_SECONDS` of CPU time for one part (checked at every iteration, call, operator and
  write, so a step between two checks is bounded by the size limits above). CPU time of the
  rendering thread, not wall time: a busy machine or a pause elsewhere never fails a real email.

A step that would break a limit raises `LimitExceeded` (a plain Exception, so that no `except
ValueError` inside Jinja's filters swallows it); `render_bounded` turns it into a message naming the
part and the limit. Counters live in a context variable per part, so one environment serves every
thread. Size checks hold even outside `render_bounded` (Jinja folds constant expressions while
compiling); counters and the deadline only inside it.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from string import Formatter
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from plugin.notify.template_limits import (
    LOOP_GUARD_FILTER,
    MAX_CALLS,
    MAX_CHARS,
    BoundedEscapeFormatter,
    BoundedFormatter,
    LimitExceeded,
    bounded_filter,
    bounded_range,
    check_binop,
    check_method_call,
    check_value,
    loop_guard,
    measure,
    part_budget,
    tick,
    too_long,
)

__all__ = ["BoundedSandbox", "LimitExceeded", "render_bounded"]

# -- the environment -------------------------------------------------------------------------------


class _BoundedCodeGenerator(CodeGenerator):
    """Generates the sandbox's code with three more checkpoints: every loop's iterable goes through
    the loop guard, every `~` joins through `bounded_join`, every list/tuple/dict literal is measured."""

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        for loop in node.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, LOOP_GUARD_FILTER, [], [], None, None, lineno=loop.iter.lineno)
        super().visit_Template(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        # As CodeGenerator.visit_Concat, but the operands reach the environment before they are joined.
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"environment.bounded_join({join}, (")
        for operand in node.nodes:
            self.visit(operand, frame)
            self.write(", ")
        self.write("))")

    def _measured(self, visit: Callable[[Any, Frame], None], node: Any, frame: Frame) -> None:
        self.write("environment.bounded_literal(")
        visit(node, frame)
        self.write(")")

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self._measured(super().visit_List, node, frame)

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self._measured(super().visit_Dict, node, frame)

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx == "store":  # `{% for a, b in ... %}`: an assignment target, not a value
            super().visit_Tuple(node, frame)
        else:
            self._measured(super().visit_Tuple, node, frame)


class BoundedSandbox(SandboxedEnvironment):
    """A `SandboxedEnvironment` that refuses any step beyond the limits above (see the module's doc)."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        finalize = kwargs.pop("finalize", None)
        super().__init__(*args, finalize=self._bounded_finalize, **kwargs)
        self._inner_finalize = finalize
        self.globals["range"] = bounded_range
        self.globals.pop("lipsum", None)  # lipsum(n=10**8) writes paragraphs without end
        self.filters = {name: bounded_filter(name, func) for name, func in self.filters.items()}
        self.filters[LOOP_GUARD_FILTER] = loop_guard

    def add_filter(self, name: str, func: Callable[..., Any]) -> None:
        """Filters added later (`nl2br`) are bounded too."""
        self.filters[name] = bounded_filter(name, func)

    # Everything `{{ ... }}` writes passes here first: measure it before it is turned into text.
    def _bounded_finalize(self, value: Any) -> Any:
        budget = tick()
        size = measure(value)
        if size > MAX_CHARS:
            raise too_long("a written value")
        if budget is not None:
            budget.written += size
            if budget.written > MAX_CHARS:
                raise too_long("the text written (counting macros and captures)")
        return self._inner_finalize(value) if self._inner_finalize is not None else value

    # Buffers (macro bodies, `{% set %}` and `{% filter %}` blocks) are joined here.
    def concat(self, parts: Iterable[str]) -> str:  # type: ignore[override]
        collected, total = [], 0
        for part in parts:
            total += len(part)
            if total > MAX_CHARS:
                raise too_long("a block's text")
            collected.append(part)
        return "".join(collected)

    def bounded_join(self, join: Callable[[Iterable[Any]], str], operands: tuple[Any, ...]) -> str:
        """`a ~ b ~ c`: measured before joining."""
        tick()
        total = 0
        for operand in operands:
            total += measure(operand)
            if total > MAX_CHARS:
                raise too_long("a concatenation (~) would make a text")
        return join(operands)

    def bounded_literal(self, value: Any) -> Any:
        return check_value(value, "a list, tuple or dict literal")

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        tick()
        check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        budget = tick()
        if budget is not None:
            budget.calls += 1
            if budget.calls > MAX_CALLS:
                raise LimitExceeded(f"more than {MAX_CALLS:,} calls (macros, methods)")
        args = check_method_call(__obj, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        return check_value(result, "a call's result")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """The sandbox's own `str.format` wrapper, with a formatter that counts what it prints."""
        if not isinstance(value, (types.MethodType, types.BuiltinMethodType)) or value.__name__ not in (
                "format", "format_map"):
            return None
        owner = value.__self__
        if not isinstance(owner, str):
            return None
        is_format_map = value.__name__ == "format_map"
        str_type = type(owner)

        def bounded_format(*args: Any, **kwargs: Any) -> str:
            formatter: Formatter = (BoundedEscapeFormatter(self, escape=owner.escape)
                                    if isinstance(owner, Markup) else BoundedFormatter(self))
            if is_format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                args, kwargs = (), args[0]
            return str_type(formatter.vformat(owner, args, kwargs))

        return wraps(value)(bounded_format)


def render_bounded(template: Any, context: Mapping[str, Any]) -> str:
    """Render `template`, streaming its output and stopping past MAX_CHARS; LimitExceeded on any limit."""
    with part_budget():
        collected, total = [], 0
        for chunk in template.generate(context):
            total += len(chunk)
            if total > MAX_CHARS:
                raise too_long("the rendered text")
            tick()
            collected.append(chunk)
        return "".join(collected)
