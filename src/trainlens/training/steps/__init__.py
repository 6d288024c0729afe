"""The steps the one loop (:mod:`trainlens.training.loop`) trains with, one file each: the plain
SGD ensemble (``sgd``: eager and compiled), the regularized objective with its optimizer
(``regularized``, dherin2022/fort2019) and the closed-form two-layer step with Langevin noise
(``two_layer``, nakazato2024). The last two are their trainers' own steps
(``trainlens.experiments.trainers:TRAINERS``); the ensemble trainer picks its step by
``train.step`` from ``STEPS``: a new one is a class in ``training/steps/<name>.py`` built like
``SGDStep`` and one line here.
"""

from __future__ import annotations

from trainlens.training.steps.sgd import SGDStep

STEPS: dict[str, type[SGDStep]] = {
    "sgd": SGDStep,
}
