"""fort2019 (docs/protocols/fort2019.md): figures, claims and the stiffness statistics of its
tables (stats.py)."""
