"""Torch-free statistics that are no paper's own (a leaf: numpy and scipy, nothing of the package).

- ``critical_length``: stiffness binned by input distance and the critical length ξ with its
  censoring codes (the stiffness probe computes ξ while it measures; fort2019's figures and
  claims read the codes);
- ``rank``: Spearman's ρ, with NaN for too few or constant values, or over the pairs present;
- ``curves``: the slope of a log-log fit over a window and exponential smoothing.

A paper's own table statistics live with its figures and claims in ``analysis/<slug>/stats.py``
(docs/design.md "Rooms").
"""
