"""The named mutants (tests/mutants/) still fit the code: each one's search text occurs exactly once
in its file, and the tests meant to catch it exist. Moving code must move its mutants with it, or the
mutant run would stop at the first stale one; this check says so in seconds, in every run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "mutants"))

import dashboard_i18n  # noqa: E402
import issue11  # noqa: E402
import issue13_erasure  # noqa: E402
import issue13_faults  # noqa: E402
import issue13_hostile  # noqa: E402
import issue13_keys  # noqa: E402
import issue13_proof  # noqa: E402
import issue13_sign_in  # noqa: E402
import issue13_ssrf  # noqa: E402
import tenant  # noqa: E402

MUTANTS = (issue11.MUTANTS + tenant.MUTANTS + dashboard_i18n.MUTANTS + issue13_sign_in.MUTANTS + issue13_erasure.MUTANTS
           + issue13_proof.MUTANTS + issue13_keys.MUTANTS + issue13_hostile.MUTANTS + issue13_ssrf.MUTANTS
           + issue13_faults.MUTANTS)


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m["name"] for m in MUTANTS])
def test_mutant_applies_once_and_names_existing_tests(mutant: dict) -> None:  # type: ignore[type-arg]
    source = ROOT / mutant["file"]
    assert source.exists(), f"{mutant['name']}: {mutant['file']} is gone"
    assert source.read_text().count(mutant["search"]) == 1, f"{mutant['name']}: search text not found once"
    for test in mutant["tests"]:
        assert (ROOT / test.split("::")[0]).exists(), f"{mutant['name']}: {test} is gone"
