"""loukas2021 (docs/protocols/loukas2021.md): figures, claims and the trajectory statistics of
its tables (stats.py)."""
