"""Evals: run suites of tasks as real sessions and score them; SWE-bench predictions."""
