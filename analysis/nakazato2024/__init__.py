"""nakazato2024 (docs/protocols/nakazato2024.md): figures, claims and the aging statistics of its
tables (stats.py)."""
