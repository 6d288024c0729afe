"""Torch-free statistics shared by the measure stage and the analysis (a leaf: imports numpy only).

Probes compute ξ with :mod:`trainlens.stats.critical_length` while they measure, and the paper
statistics of :mod:`trainlens.summaries` read the same censoring codes; neither of those rooms
imports the other.
"""
