"""Experiments as data: ``experiments/<paper>.yaml`` loaded, checked and resolved into groups.

One module per job, imported by name (this package imports none of them, so that an engine that
needs only :mod:`typed` pays for nothing else):

- :mod:`~trainlens.experiments.typed`: ``ConfigError`` and ``make_dataclass_config``, the typed
  check of a config block (a leaf: the engines import it);
- :mod:`~trainlens.experiments.ids`: run and group ids, the hash of a science config;
- :mod:`~trainlens.experiments.trainers`: the training engines (``TRAINERS``), each with its slice
  rule;
- :mod:`~trainlens.experiments.loading`: YAML, schema, scales, ``load_experiments``;
- :mod:`~trainlens.experiments.resolving`: grids and groups (``resolve_experiment``);
- :mod:`~trainlens.experiments.slicing`: the tiny slice (``tiny_slice``), which asks each
  registry entry (dataset, model, trainer, probe block) to shrink its own block.
"""
