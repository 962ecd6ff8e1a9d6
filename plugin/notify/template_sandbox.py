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

import math
import re
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from itertools import chain
from string import Formatter
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context, Namespace, Undefined
from jinja2.sandbox import SandboxedEnvironment, SandboxedFormatter
from jinja2.utils import pass_context
from markupsafe import EscapeFormatter, Markup

# Limits a real email never comes near (the longest packaged template renders to ~4,000 characters
# and loops over a handful of job titles), chosen so the worst a template can do stays well under a
# second and a few megabytes.
MAX_CHARS = 100_000
MAX_INT_BITS = 3_322  # about 1,000 decimal digits
MAX_RANGE = 1_000
MAX_LOOP_ITERATIONS = 10_000
MAX_CALLS = 10_000
MAX_SECONDS = 1.0

LOOP_GUARD_FILTER = "ghostless_loop_guard"


class LimitExceeded(Exception):
    """A template step would break one of the limits; `limit` says which, in words."""

    def __init__(self, limit: str) -> None:
        super().__init__(limit)
        self.limit = limit


@dataclass
class _Budget:
    deadline: float
    iterations: int = 0
    calls: int = 0
    written: int = 0

    def tick(self) -> None:
        # The thread's CPU time, not plugin.clock (tests freeze the business clock; this guards the CPU).
        if time.thread_time() > self.deadline:
            raise LimitExceeded(f"used more than {MAX_SECONDS:g} s of CPU time")


_BUDGET: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


def _tick() -> _Budget | None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.tick()
    return budget


def _too_long(what: str) -> LimitExceeded:
    return LimitExceeded(f"{what} longer than {MAX_CHARS:,} characters")


# -- measuring -------------------------------------------------------------------------------------


def measure(value: Any, cap: int = MAX_CHARS) -> int:
    """About how many characters `value` prints as (every item of nested containers counted, shared
    items each time they appear); stops counting once past `cap`, so it never costs more than that."""
    if isinstance(value, str):  # nearly every value a template handles
        return len(value)
    total = 0
    pending: list[Iterator[Any]] = [iter((value,))]
    while pending:
        item = next(pending[-1], _DONE)
        if item is _DONE:
            pending.pop()
            continue
        if isinstance(item, (str, bytes, bytearray)):
            total += len(item)
        elif isinstance(item, bool) or item is None or isinstance(item, (float, Undefined)):
            total += 8
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            pending.append(chain.from_iterable(item.items()))
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + 2 * len(item)
            pending.append(iter(item))
        elif isinstance(item, range):
            total += 8 * min(len(item), cap + 1)
        elif isinstance(item, Namespace):
            pending.append(iter((object.__getattribute__(item, "_Namespace__attrs"),)))
        else:  # functions, generators, macros, loop contexts: printed as a short description
            total += 64
        if total > cap:
            return total
    return total


_DONE = object()


def check_value(value: Any, what: str = "a value") -> Any:
    if measure(value) > MAX_CHARS:
        raise _too_long(what)
    return value


def _check_int(value: Any, what: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_CHARS:
        raise LimitExceeded(f"{what} {value:,} is larger than {MAX_CHARS:,}")


# -- operators -------------------------------------------------------------------------------------

# printf-style conversions: `%s`, `%(name)-20s`, `%*.*f`, `%%`.
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


def _check_percent_format(template: str | bytes, args: Any) -> None:
    """`template % args` prints at most its own text plus, per conversion, the widest argument or width."""
    text = template.decode("latin-1") if isinstance(template, bytes) else template
    specs = _PERCENT_SPEC.findall(text)
    if not specs:
        return
    values = list(args.values()) if isinstance(args, Mapping) else list(args) if isinstance(args, tuple) else [args]
    widths = [int(n) for spec in specs for n in spec if n.isdigit()]
    widths += [abs(v) for v in values if isinstance(v, int) and not isinstance(v, bool)]  # `*` takes them
    widest = max(widths, default=0)
    longest = max((measure(v) for v in values), default=0)
    if len(text) + len(specs) * (widest + longest) > MAX_CHARS:
        raise _too_long("a % format would make a text")


def _check_binop(operator: str, left: Any, right: Any) -> None:
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "**" and ints and right > 0 and abs(left) > 1:
        if math.log2(abs(left)) * right > MAX_INT_BITS:
            raise LimitExceeded(f"a power would make a number of more than {MAX_INT_BITS:,} bits "
                                f"(about {MAX_INT_BITS * 3 // 10:,} digits)")
    elif operator == "*":
        if ints:
            if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise LimitExceeded(f"a product would make a number of more than {MAX_INT_BITS:,} bits")
        elif isinstance(right, int) and not isinstance(left, (int, float)):
            if measure(left) * max(right, 0) > MAX_CHARS:
                raise _too_long("a repetition (*) would make a value")
        elif isinstance(left, int) and not isinstance(right, (int, float)):
            if measure(right) * max(left, 0) > MAX_CHARS:
                raise _too_long("a repetition (*) would make a value")
    elif operator == "+" and not ints:
        if measure(left) + measure(right) > MAX_CHARS:
            raise _too_long("a concatenation (+) would make a value")
    elif operator == "%" and isinstance(left, (str, bytes)):
        _check_percent_format(left, right)


# -- str.format ------------------------------------------------------------------------------------


class _BoundedFormatter(SandboxedFormatter):
    """`str.format` that counts what each field prints (its value, padded to its width) before printing it."""

    def __init__(self, env: Any, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self._printed = 0

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        check_value(value, "a formatted field")
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        width = max((int(n) for n in re.findall(r"\d+", format_spec)), default=0)
        self._printed += measure(value) + width
        if self._printed > MAX_CHARS:
            raise _too_long("str.format would make a text")
        return super().format_field(value, format_spec)


class _BoundedEscapeFormatter(_BoundedFormatter, EscapeFormatter):
    pass


# -- filters and methods ---------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    items = []
    for item in value:
        items.append(item)
        if len(items) > MAX_CHARS:
            raise _too_long("a sequence")
    return items


def _joined_size(items: list[Any], separator: Any) -> int:
    total = len(separator) * max(len(items) - 1, 0) if isinstance(separator, (str, bytes)) else 0
    for item in items:
        total += measure(item)
        if total > MAX_CHARS:
            break
    return total


def _replaced_size(text: Any, old: Any, new: Any, count: Any = None) -> int:
    text, old, new = str(text), str(old), str(new)
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * max(len(new) - len(old), 0)


def _grow_filter_args(name: str, args: list[Any], kwargs: dict[str, Any]) -> None:
    """Check, before it runs, a filter whose output can be many times its input (`args[0]` is the value)."""

    def arg(position: int, keyword: str, default: Any = None) -> Any:
        return args[position] if len(args) > position else kwargs.get(keyword, default)

    if name == "join":
        args[0] = items = _as_list(args[0])
        if _joined_size(items, arg(1, "d", "")) > MAX_CHARS:
            raise _too_long("join would make a text")
    elif name == "replace":
        if _replaced_size(args[0], arg(1, "old", ""), arg(2, "new", ""), arg(3, "count")) > MAX_CHARS:
            raise _too_long("replace would make a text")
    elif name == "format":
        _check_percent_format(str(args[0]), kwargs or tuple(args[1:]))
    elif name == "indent":
        width = arg(1, "width", 4)
        per_line = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        text = str(args[0])
        if len(text) + (text.count("\n") + 1) * per_line > MAX_CHARS:
            raise _too_long("indent would make a text")
    elif name == "wordwrap":
        text, width, wrap = str(args[0]), arg(1, "width", 79), arg(4, "wrapstring", None) or "\n"
        lines = len(text) // max(width if isinstance(width, int) else 1, 1) + text.count("\n") + 1
        if len(text) + lines * len(str(wrap)) > MAX_CHARS:
            raise _too_long("wordwrap would make a text")
    elif name == "urlize":
        text = str(args[0])
        extra = len(str(arg(3, "target", "") or "")) + len(str(arg(4, "rel", "") or "")) + 64
        if 2 * len(text) + len(text.split()) * extra > MAX_CHARS:
            raise _too_long("urlize would make a text")
    elif name == "sum" and isinstance(arg(2, "start", 0), (str, bytes, list, tuple)):
        args[0] = items = _as_list(args[0])
        if measure(arg(2, "start", 0)) + _joined_size(items, None) > MAX_CHARS:
            raise _too_long("sum would make a value")


# Filters and methods whose work or output grows with an integer argument (a width, a count).
_SIZED_BY_INT_FILTERS = frozenset({"batch", "center", "indent", "round", "slice", "truncate", "urlize", "wordwrap"})
_SIZED_BY_INT_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    passes_first = getattr(func, "jinja_pass_arg", None) is not None  # context, eval context or environment

    @wraps(func)  # keeps `jinja_pass_arg`, so Jinja still passes what the filter asks for
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        first = 1 if passes_first else 0
        values = list(args[first:])
        if name in _SIZED_BY_INT_FILTERS:
            for value in values[1:] + list(kwargs.values()):
                _check_int(value, f"the {name} filter's argument")
        if values:
            _grow_filter_args(name, values, kwargs)
        result = func(*args[:first], *values, **kwargs)
        return check_value(result, f"the {name} filter's result")

    return bounded


_GROWING_METHODS: dict[str, Callable[[Any, tuple[Any, ...], dict[str, Any]], int]] = {
    "join": lambda owner, args, kw: _joined_size(list(args[0]) if args else [], owner),
    "replace": lambda owner, args, kw: _replaced_size(owner, *args[:3]) if len(args) >= 2 else 0,
    "expandtabs": lambda owner, args, kw: len(owner) + owner.count("\t" if isinstance(owner, str) else b"\t")
    * (args[0] if args and isinstance(args[0], int) else kw.get("tabsize", 8)),
    "extend": lambda owner, args, kw: measure(owner) + (measure(args[0]) if args else 0),
    "update": lambda owner, args, kw: measure(owner) + measure(args) + measure(kw),
}


def _check_method_call(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Methods of str, bytes, list, dict and set that can grow without bound are checked before they run."""
    owner = getattr(method, "__self__", None)
    if not isinstance(method, types.BuiltinMethodType) or not isinstance(
            owner, (str, bytes, list, dict, set)):
        return args
    name = method.__name__
    if name in _SIZED_BY_INT_METHODS:
        for value in (*args, *kwargs.values()):
            _check_int(value, f"{name}()'s argument")
    if name in ("join", "extend") and args:
        args = (_as_list(args[0]), *args[1:])
    size = _GROWING_METHODS.get(name)
    if size is not None and size(owner, args, kwargs) > MAX_CHARS:
        raise _too_long(f"{name}() would make a value")
    return args


def bounded_range(*args: int) -> range:
    """range() with at most MAX_RANGE items (the sandbox's own allows 100,000)."""
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise LimitExceeded(f"a range() of more than {MAX_RANGE:,} items")
    return numbers


@pass_context
def _loop_guard(context: Context, iterable: Any) -> Iterator[Any]:
    """Wraps every `{% for %}`'s iterable: counts iterations across the part, checks the clock."""
    for item in iterable:
        budget = _tick()
        if budget is not None:
            budget.iterations += 1
            if budget.iterations > MAX_LOOP_ITERATIONS:
                raise LimitExceeded(f"more than {MAX_LOOP_ITERATIONS:,} loop iterations")
        yield item


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
        self.filters = {name: _bounded_filter(name, func) for name, func in self.filters.items()}
        self.filters[LOOP_GUARD_FILTER] = _loop_guard

    def add_filter(self, name: str, func: Callable[..., Any]) -> None:
        """Filters added later (`nl2br`) are bounded too."""
        self.filters[name] = _bounded_filter(name, func)

    # Everything `{{ ... }}` writes passes here first: measure it before it is turned into text.
    def _bounded_finalize(self, value: Any) -> Any:
        budget = _tick()
        size = measure(value)
        if size > MAX_CHARS:
            raise _too_long("a written value")
        if budget is not None:
            budget.written += size
            if budget.written > MAX_CHARS:
                raise _too_long("the text written (counting macros and captures)")
        return self._inner_finalize(value) if self._inner_finalize is not None else value

    # Buffers (macro bodies, `{% set %}` and `{% filter %}` blocks) are joined here.
    def concat(self, parts: Iterable[str]) -> str:  # type: ignore[override]
        collected, total = [], 0
        for part in parts:
            total += len(part)
            if total > MAX_CHARS:
                raise _too_long("a block's text")
            collected.append(part)
        return "".join(collected)

    def bounded_join(self, join: Callable[[Iterable[Any]], str], operands: tuple[Any, ...]) -> str:
        """`a ~ b ~ c`: measured before joining."""
        _tick()
        total = 0
        for operand in operands:
            total += measure(operand)
            if total > MAX_CHARS:
                raise _too_long("a concatenation (~) would make a text")
        return join(operands)

    def bounded_literal(self, value: Any) -> Any:
        return check_value(value, "a list, tuple or dict literal")

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _tick()
        _check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        budget = _tick()
        if budget is not None:
            budget.calls += 1
            if budget.calls > MAX_CALLS:
                raise LimitExceeded(f"more than {MAX_CALLS:,} calls (macros, methods)")
        args = _check_method_call(__obj, args, kwargs)
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
            formatter: Formatter = (_BoundedEscapeFormatter(self, escape=owner.escape)
                                    if isinstance(owner, Markup) else _BoundedFormatter(self))
            if is_format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                args, kwargs = (), args[0]
            return str_type(formatter.vformat(owner, args, kwargs))

        return wraps(value)(bounded_format)


@contextmanager
def part_budget() -> Iterator[None]:
    """Counters and a deadline for rendering one part; nested parts (an include) share the outer one."""
    if _BUDGET.get() is not None:
        yield
        return
    token = _BUDGET.set(_Budget(deadline=time.thread_time() + MAX_SECONDS))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def render_bounded(template: Any, context: Mapping[str, Any]) -> str:
    """Render `template`, streaming its output and stopping past MAX_CHARS; LimitExceeded on any limit."""
    with part_budget():
        collected, total = [], 0
        for chunk in template.generate(context):
            total += len(chunk)
            if total > MAX_CHARS:
                raise _too_long("the rendered text")
            _tick()
            collected.append(chunk)
        return "".join(collected)
