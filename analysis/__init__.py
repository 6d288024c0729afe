"""The papers' rooms: ``analysis/<slug>/`` holds a paper's figures, claims and table statistics
(``figures.py``, ``claims.py``, ``stats.py``) and its notes; ``analysis/atlas/`` the complexity
atlas study (docs/design.md "Rooms").

A package of the repository, not of the installed ``trainlens``: the workflow names these files
(rules pass ``analysis/<slug>/figures.py``), and :func:`trainlens.analysis_modules.load_module`
imports ``analysis`` from the folder of the file it is given, so the code that runs is always the
checkout's. Modules import their siblings as ``analysis.<slug>.<module>``.
"""
