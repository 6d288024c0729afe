"""fort2019 figures (docs/protocols/fort2019.md §5): the registry the workflow loads.

One function per figure, in two files that register on one set in the paper's order:
figures_classes.py (fig03, figR01, figR02: stiffness during training and between classes) and
figures_distance.py (figR03-figR05: stiffness against learning rate and input distance, ξ).
"""

from analysis.fort2019.figures_distance import figures

__all__ = ["figures"]
