"""loukas2021 figures (docs/protocols/loukas2021.md §5): the registry the workflow loads.

One function per figure, in two files that register on one set in this order: figures_mlp.py
(the MLP figures of E1a and E4) and figures_regions_classifiers.py (fig06, the linear regions of
E2, and the classifiers' figures of E1b, E1c and E3).
"""

from analysis.loukas2021.figures_regions_classifiers import figures

__all__ = ["figures"]
