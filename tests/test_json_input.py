"""plugin.json_input.nesting_depth, which every API request runs over its whole body: the level-by-level
walk counts what a plain recursive definition counts, and stops one level past the limit."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.json_input import MAX_DEPTH, BadJson, nesting_depth, parse_json

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=3), inner, max_size=4), max_leaves=40)


def reference_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((reference_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((reference_depth(v) for v in value), default=0)
    return 0


@settings(max_examples=200, derandomize=True)
@given(JSON_VALUES)
def test_the_depth_is_the_levels_of_arrays_and_objects(value):
    assert nesting_depth(value) == min(reference_depth(value), MAX_DEPTH + 1)


@pytest.mark.parametrize("levels", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 500])
def test_the_limit_is_counted_exactly_and_deep_bodies_are_refused(levels):
    text = '{"a":' * (levels // 2) + "[" * (levels - levels // 2) + "]" * (levels - levels // 2) + "}" * (levels // 2)
    value = json.loads(text)
    assert nesting_depth(value) == min(levels, MAX_DEPTH + 1)
    if levels > MAX_DEPTH:
        with pytest.raises(BadJson, match="nested too deeply"):
            parse_json(text)
    else:
        assert parse_json(text.encode()) == value
