"""Apply named mutants to a scratch copy of the tree and check that the tests meant to catch each one
go red. A mutant whose tests stay green is a hole in the tests.

    python tests/mutants/run.py                 # every mutant
    python tests/mutants/run.py --list          # names and what each breaks
    python tests/mutants/run.py dedupe-key-removed written-date-may-move

The copy holds the working tree as it is (tracked and untracked files, uncommitted changes included),
so a mutant is tested against the code you are looking at; the tree itself is never touched. The
back end comes from the environment, as for the tests (GHOSTLESS_DATABASE_URL / GHOSTLESS_REDIS_URL).
Exit status 0 only if every mutant was caught.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import dashboard_i18n  # noqa: E402
import issue11  # noqa: E402
import issue13_erasure  # noqa: E402
import issue13_faults  # noqa: E402
import issue13_hostile  # noqa: E402
import issue13_keys  # noqa: E402
import issue13_proof  # noqa: E402
import issue13_sign_in  # noqa: E402
import issue13_ssrf  # noqa: E402

try:
    import tenant  # noqa: E402  # written with the tenant isolation test
    TENANT_MUTANTS: list[dict[str, Any]] = tenant.MUTANTS
except ImportError:  # pragma: no cover - the list is optional
    TENANT_MUTANTS = []

ALL = (issue11.MUTANTS + TENANT_MUTANTS + dashboard_i18n.MUTANTS + issue13_sign_in.MUTANTS + issue13_erasure.MUTANTS
       + issue13_proof.MUTANTS + issue13_ssrf.MUTANTS + issue13_keys.MUTANTS + issue13_hostile.MUTANTS
       + issue13_faults.MUTANTS)


def copy_tree(target: Path) -> None:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def apply(mutant: dict[str, Any], tree: Path) -> None:
    path = tree / mutant["file"]
    text = path.read_text()
    found = text.count(mutant["search"])
    if found != 1:
        raise SystemExit(f"mutant {mutant['name']}: its search text occurs {found} times in {mutant['file']} "
                         "(expected once); update tests/mutants/ to the current code")
    path.write_text(text.replace(mutant["search"], mutant["replace"]))


def run_one(mutant: dict[str, Any], examples: str) -> tuple[bool, float, str]:
    """(caught, seconds, the last lines of pytest's output)."""
    with tempfile.TemporaryDirectory(prefix=f"mutant-{mutant['name']}-") as scratch:
        tree = Path(scratch)
        copy_tree(tree)
        apply(mutant, tree)
        tests = [t for t in mutant["tests"] if (tree / t.split("::")[0]).exists()]
        if not tests:
            return False, 0.0, f"none of its tests exist: {', '.join(mutant['tests'])}"
        env = {**os.environ, "PYTHONPATH": str(tree), "GHOSTLESS_PROPERTY_EXAMPLES": examples}
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                                 *tests], cwd=tree, env=env, capture_output=True,
                                text=True)
        seconds = time.monotonic() - started
    lines = [line for line in result.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    tail = "; ".join(lines[:2]) or result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    return result.returncode == 1, seconds, tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="mutants to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--examples", default="40", help="hypothesis examples per property test (default 40)")
    args = parser.parse_args(argv)
    if args.list:
        for mutant in ALL:
            print(f"{mutant['name']:<48} {mutant.get('why', '')}")
        return 0
    unknown = set(args.names) - {m["name"] for m in ALL}
    if unknown:
        parser.error(f"unknown mutant(s): {', '.join(sorted(unknown))} (see --list)")
    chosen = [m for m in ALL if not args.names or m["name"] in args.names]
    survivors = []
    for i, mutant in enumerate(chosen, 1):
        print(f"[{i}/{len(chosen)}] {mutant['name']}: {mutant.get('why', '')}", flush=True)
        caught, seconds, tail = run_one(mutant, args.examples)
        print(f"    {'caught' if caught else 'SURVIVED'} in {seconds:.0f} s: {tail}", flush=True)
        if not caught:
            survivors.append(mutant["name"])
    print(f"\n{len(chosen) - len(survivors)} of {len(chosen)} mutants caught"
          + (f"; survived: {', '.join(survivors)}" if survivors else ""))
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
