"""fort2019 claim checks (docs/protocols/fort2019.md §6): the registry the workflow loads.

One function per claim, in three files that register on one set: claims_training.py (C1-C4,
with the rules every claim follows), claims_lr_distance.py (C5-C7) and claims_xi_superclass.py
(C8-C12).
"""

from analysis.fort2019 import claims_lr_distance, claims_xi_superclass  # noqa: F401 (register)
from analysis.fort2019.claims_training import claims

__all__ = ["claims"]
