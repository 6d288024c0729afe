"""dherin2022 (docs/protocols/dherin2022.md): figures, claims and the geometric-complexity
statistics of its tables (stats.py)."""
