"""Named mutants: hand-written faults that a named test file must catch (data only, no tests here)."""
