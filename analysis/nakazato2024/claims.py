"""nakazato2024 claim checks (docs/protocols/nakazato2024.md §6): the registry the workflow loads.

One function per claim, in two files that register on one set: claims_aging.py (C1-C6, with the
rules every claim follows) and claims_features.py (C7-C10: the two-time response, the features
and the activations).
"""

from analysis.nakazato2024 import claims_features  # noqa: F401 (registers C7-C10)
from analysis.nakazato2024.claims_aging import claims

__all__ = ["claims"]
