"""Summaries of the tidy tables: the statistics that figures and claim checks compute from
``runs``, ``metrics`` and ``regions`` (numpy, pandas and scipy only, never torch).

They live apart from ``trainlens.probes`` (pure torch functions of model and batch) so that a
figure, claim or report job starts in about a second: importing torch costs each of them
seconds, and a build runs dozens of them. A test keeps these modules torch-free.

- ``trajectory``: per-epoch and end-of-training statistics of the loukas2021 tables;
- ``gc_tables``: dherin2022 GC curves, per-run summaries and sweep statistics;
- ``stiffness_summary`` and ``critical_length``: fort2019 stiffness curves, e*, binning by
  input distance and the critical length ξ;
- ``aging`` and ``response_tables``: nakazato2024 slopes, collapse scores and response tables.
"""
