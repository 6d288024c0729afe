"""loukas2021 claim checks (docs/protocols/loukas2021.md §6): the registry the workflow loads.

One function per claim, in two files that register on one set: claims_mlp.py (C1-C8, the MLP
regression experiments E1a and E2, with the rules every claim follows) and claims_classifiers.py
(C9-C12: label corruption, architecture, batch size).
"""

from analysis.loukas2021 import claims_classifiers  # noqa: F401 (registers C9-C12)
from analysis.loukas2021.claims_mlp import claims

__all__ = ["claims"]
