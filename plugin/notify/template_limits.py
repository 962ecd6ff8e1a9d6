"""The limits on rendering a template an organisation may write, and the checks that hold them.

`plugin.notify.template_sandbox` (the environment) calls these at every step a template takes; the
module's documentation there says what is bounded and why. Here: the limits, the per-part budget
(counters and a CPU-time deadline in a context variable), measuring a value before it is built, and
the bounded operators, `str.format`, filters, methods, `range()` and loops.
"""

from __future__ import annotations

import math
import re
import time
import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from itertools import chain
from typing import Any

from jinja2.runtime import Context, Namespace, Undefined
from jinja2.sandbox import SandboxedFormatter
from jinja2.utils import pass_context
from markupsafe import EscapeFormatter

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
class Budget:
    deadline: float
    iterations: int = 0
    calls: int = 0
    written: int = 0

    def tick(self) -> None:
        # The thread's CPU time, not plugin.clock (tests freeze the business clock; this guards the CPU).
        if time.thread_time() > self.deadline:
            raise LimitExceeded(f"used more than {MAX_SECONDS:g} s of CPU time")


BUDGET: ContextVar[Budget | None] = ContextVar("template_budget", default=None)


def tick() -> Budget | None:
    budget = BUDGET.get()
    if budget is not None:
        budget.tick()
    return budget


def too_long(what: str) -> LimitExceeded:
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
        raise too_long(what)
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
        raise too_long("a % format would make a text")


def check_binop(operator: str, left: Any, right: Any) -> None:
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
                raise too_long("a repetition (*) would make a value")
        elif isinstance(left, int) and not isinstance(right, (int, float)):
            if measure(right) * max(left, 0) > MAX_CHARS:
                raise too_long("a repetition (*) would make a value")
    elif operator == "+" and not ints:
        if measure(left) + measure(right) > MAX_CHARS:
            raise too_long("a concatenation (+) would make a value")
    elif operator == "%" and isinstance(left, (str, bytes)):
        _check_percent_format(left, right)


# -- str.format ------------------------------------------------------------------------------------


class BoundedFormatter(SandboxedFormatter):
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
            raise too_long("str.format would make a text")
        return super().format_field(value, format_spec)


class BoundedEscapeFormatter(BoundedFormatter, EscapeFormatter):
    pass


# -- filters and methods ---------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    items = []
    for item in value:
        items.append(item)
        if len(items) > MAX_CHARS:
            raise too_long("a sequence")
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
            raise too_long("join would make a text")
    elif name == "replace":
        if _replaced_size(args[0], arg(1, "old", ""), arg(2, "new", ""), arg(3, "count")) > MAX_CHARS:
            raise too_long("replace would make a text")
    elif name == "format":
        _check_percent_format(str(args[0]), kwargs or tuple(args[1:]))
    elif name == "indent":
        width = arg(1, "width", 4)
        per_line = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        text = str(args[0])
        if len(text) + (text.count("\n") + 1) * per_line > MAX_CHARS:
            raise too_long("indent would make a text")
    elif name == "wordwrap":
        text, width, wrap = str(args[0]), arg(1, "width", 79), arg(4, "wrapstring", None) or "\n"
        lines = len(text) // max(width if isinstance(width, int) else 1, 1) + text.count("\n") + 1
        if len(text) + lines * len(str(wrap)) > MAX_CHARS:
            raise too_long("wordwrap would make a text")
    elif name == "urlize":
        text = str(args[0])
        extra = len(str(arg(3, "target", "") or "")) + len(str(arg(4, "rel", "") or "")) + 64
        if 2 * len(text) + len(text.split()) * extra > MAX_CHARS:
            raise too_long("urlize would make a text")
    elif name == "sum" and isinstance(arg(2, "start", 0), (str, bytes, list, tuple)):
        args[0] = items = _as_list(args[0])
        if measure(arg(2, "start", 0)) + _joined_size(items, None) > MAX_CHARS:
            raise too_long("sum would make a value")


# Filters and methods whose work or output grows with an integer argument (a width, a count).
_SIZED_BY_INT_FILTERS = frozenset({"batch", "center", "indent", "round", "slice", "truncate", "urlize", "wordwrap"})
_SIZED_BY_INT_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


def bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    passes_first = getattr(func, "jinja_pass_arg", None) is not None  # context, eval context or environment

    @wraps(func)  # keeps `jinja_pass_arg`, so Jinja still passes what the filter asks for
    def bounded(*args: Any, **kwargs: Any) -> Any:
        tick()
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


def check_method_call(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
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
        raise too_long(f"{name}() would make a value")
    return args


def bounded_range(*args: int) -> range:
    """range() with at most MAX_RANGE items (the sandbox's own allows 100,000)."""
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise LimitExceeded(f"a range() of more than {MAX_RANGE:,} items")
    return numbers


@pass_context
def loop_guard(context: Context, iterable: Any) -> Iterator[Any]:
    """Wraps every `{% for %}`'s iterable: counts iterations across the part, checks the clock."""
    for item in iterable:
        budget = tick()
        if budget is not None:
            budget.iterations += 1
            if budget.iterations > MAX_LOOP_ITERATIONS:
                raise LimitExceeded(f"more than {MAX_LOOP_ITERATIONS:,} loop iterations")
        yield item


@contextmanager
def part_budget() -> Iterator[None]:
    """Counters and a deadline for rendering one part; nested parts (an include) share the outer one."""
    if BUDGET.get() is not None:
        yield
        return
    token = BUDGET.set(Budget(deadline=time.thread_time() + MAX_SECONDS))
    try:
        yield
    finally:
        BUDGET.reset(token)
