"""fort2019 measurements of one checkpoint as metrics rows (docs/protocols/fort2019.md §4, the
inputs of C1-C11).

The probe set is fixed and class-stratified (docs/protocols/fort2019.md §7 pitfall 9):
``train_per_class`` training and ``val_per_class`` validation examples per class, drawn with
``probe_seed`` (not the run seed), so every checkpoint, learning rate and seed sees the same
examples; the measure stage builds these input sets (``class_probe_train``,
``class_probe_test``) from the settings below. One float64 Gram over the stacked probe gives the
three pair modes tt, tv and vv (rows: the first set's labels, columns: the second's). Rows
(``split`` is the pair mode unless said otherwise):

- ``checkpoint_loss``, ``checkpoint_accuracy`` on the full train and val sets (``split``
  train/val; the trainer's own log holds ``loss`` at the first and last step only): e*, fig03;
- ``stiffness_{within,between}_{cos,sign}`` class-balanced, ``..._pooled`` pair-pooled;
- ``diagonal_dominant_classes`` (C2) and, for vv, ``class_{cos,sign}_<a>_<b>`` (figR01);
- for tt and vv: the within-class S_cos curve against input distance
  (``distance_bin<k>_{centre,mean,sem,count}``) and ξ (``xi_fit``, ``xi_crossing`` with
  ``..._status`` = index in ``critical_length.CENSORING``), plus the sensitivity variants
  ``xi_fit_width`` (0.05-wide bins), ``xi_fit_sign`` (S_sign) and ``xi_fit_allpairs``;
- with super-classes in the data (``Split.extras["superclass"]``), on the vv C_cos:
  ``superclass_of_<c>`` (the map, for figR02), ``superclass_delta``/``superclass_p`` (C10)
  and, given ``living_superclasses``, ``living_delta``/``living_p`` (C11).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from trainlens.losses import LOSSES
from trainlens.probes.base import InputSet, Options, Row
from trainlens.probes.class_stiffness import (
    balanced_within_between,
    class_stiffness,
    diagonal_dominance,
    group_contrast,
    group_permutation_p,
    input_distances,
    pair_values,
    pooled_within_between,
)
from trainlens.probes.outcomes import EVAL_CHUNK, mean_loss_and_error
from trainlens.probes.stiffness import stiffness
from trainlens.stats.critical_length import (
    CENSORING,
    CriticalLength,
    bin_by_distance,
    critical_length_crossing,
    critical_length_fit,
)


@dataclass(frozen=True)
class StiffnessOptions:
    """The experiment's ``stiffness:`` block (docs/protocols/fort2019.md §3 probe sizes, §4 ξ
    estimator)."""

    train_per_class: int = 50
    val_per_class: int = 50
    probe_seed: int = 0
    n_bins: int = 20
    bin_width: float = 0.05
    min_pairs: int = 30
    permutations: int = 2000
    living_superclasses: tuple[int, ...] = ()
    chunk_size: int = 64


def _full_set_rows(model: nn.Module, inputs: Mapping[str, InputSet], loss_name: str
                   ) -> list[Row]:
    """Loss and accuracy on the full train and val (test) sets, in chunks (50k CIFAR images);
    the same sums as the ``outcomes`` probe's ``checkpoint_loss``."""
    loss = LOSSES[loss_name]
    rows = []
    for name, batch in (("train", inputs["train"]), ("val", inputs["test"])):
        mean_loss, mean_error = mean_loss_and_error(model, batch.x, batch.y, loss, EVAL_CHUNK)
        rows += [{"split": name, "metric": "checkpoint_loss", "value": mean_loss},
                 {"split": name, "metric": "checkpoint_accuracy", "value": 1 - mean_error}]
    return rows


def _xi_rows(mode: str, prefix: str, xi: CriticalLength) -> list[Row]:
    return [{"split": mode, "metric": prefix, "value": xi.value},
            {"split": mode, "metric": f"{prefix}_status",
             "value": float(CENSORING.index(xi.status))}]


def _distance_rows(mode: str, cos: torch.Tensor, sign: torch.Tensor, x: torch.Tensor,
                   labels: torch.Tensor, options: StiffnessOptions) -> list[Row]:
    distances = input_distances(x, x)
    d, s = pair_values(cos, distances, labels, labels, same_set=True)
    curve = bin_by_distance(d, s, options.n_bins)
    rows: list[Row] = []
    for k in range(len(curve.centre)):
        for field in ("centre", "mean", "sem", "count"):
            rows.append({"split": mode, "metric": f"distance_bin{k:02d}_{field}",
                         "value": float(getattr(curve, field)[k])})
    rows += _xi_rows(mode, "xi_fit", critical_length_fit(curve))
    rows += _xi_rows(mode, "xi_crossing", critical_length_crossing(curve))
    width = bin_by_distance(d, s, width=options.bin_width, min_pairs=options.min_pairs)
    rows += _xi_rows(mode, "xi_fit_width", critical_length_fit(width))
    rows.append({"split": mode, "metric": "distance_bins_width_kept",
                 "value": float(len(width.centre))})
    d_sign, s_sign = pair_values(sign, distances, labels, labels, same_set=True)
    rows += _xi_rows(mode, "xi_fit_sign", critical_length_fit(
        bin_by_distance(d_sign, s_sign, options.n_bins)))
    d_all, s_all = pair_values(cos, distances, labels, labels, same_set=True, within_class=False)
    rows += _xi_rows(mode, "xi_fit_allpairs", critical_length_fit(
        bin_by_distance(d_all, s_all, options.n_bins)))
    return rows


def _group_rows(classes: torch.Tensor, superclass: np.ndarray, options: StiffnessOptions
                ) -> list[Row]:
    """C10 (super-classes) and C11 (living vs non-living super-classes) on the vv C_cos."""
    rows = [{"split": "vv", "metric": f"superclass_of_{c}", "value": float(group)}
            for c, group in enumerate(superclass)]
    rows += [{"split": "vv", "metric": "superclass_delta",
             "value": group_contrast(classes, superclass)},
            {"split": "vv", "metric": "superclass_p",
             "value": group_permutation_p(classes, superclass, options.permutations,
                                          options.probe_seed)}]
    if options.living_superclasses:
        living = np.isin(superclass, options.living_superclasses).astype(np.int64)
        rows += [{"split": "vv", "metric": "living_delta",
                  "value": group_contrast(classes, living)},
                 {"split": "vv", "metric": "living_p",
                  "value": group_permutation_p(classes, living, options.permutations,
                                               options.probe_seed)}]
    return rows


def stiffness_rows(model: nn.Module, inputs: Mapping[str, InputSet], loss_name: str,
                   options: StiffnessOptions) -> list[Row]:
    """Every fort2019 measurement of ``model`` (one member at one checkpoint) as rows of
    (split, metric, value) from the full ``train`` and ``test`` sets and the class-stratified
    ``class_probe_train`` and ``class_probe_test`` sets; the caller adds run_id, step and epoch.
    The number of classes is the model's number of outputs, or 2 for a scalar-output model (a
    binary classifier whose 0/1 labels, integer or float, index the classes)."""
    probe_train, probe_test = inputs["class_probe_train"], inputs["class_probe_test"]
    x = torch.cat([probe_train.x, probe_test.x])
    y = torch.cat([probe_train.y, probe_test.y])
    model.eval()
    with torch.no_grad():
        z = model(x[:1])
    # a scalar-output binary classifier (BCE on 0/1 labels: loukas_mlp, loukas_cnn) has one
    # logit per example, shape (N,), but two classes; K outputs are K classes
    n_classes = 2 if z.dim() == 1 else z.shape[-1]
    rows = _full_set_rows(model, inputs, loss_name)
    both = stiffness(model, x, y, LOSSES[loss_name].value, chunk_size=options.chunk_size)
    n_train = len(probe_train.x)
    superclass = probe_test.extras.get("superclass")
    sets = {"t": slice(0, n_train), "v": slice(n_train, None)}
    for mode in ("tt", "tv", "vv"):
        rows_of, cols_of = sets[mode[0]], sets[mode[1]]
        same = mode[0] == mode[1]
        labels1, labels2 = y[rows_of], y[cols_of]
        for measure in ("cos", "sign"):
            matrix = getattr(both, measure)[rows_of, cols_of]
            classes = class_stiffness(matrix, labels1, labels2, n_classes, exclude_self=same)
            balanced = balanced_within_between(classes)
            pooled = pooled_within_between(matrix, labels1, labels2, exclude_self=same)
            rows += [{"split": mode, "metric": f"stiffness_within_{measure}",
                      "value": balanced.within},
                     {"split": mode, "metric": f"stiffness_between_{measure}",
                      "value": balanced.between},
                     {"split": mode, "metric": f"stiffness_within_{measure}_pooled",
                      "value": pooled.within},
                     {"split": mode, "metric": f"stiffness_between_{measure}_pooled",
                      "value": pooled.between}]
            if measure == "cos":
                rows.append({"split": mode, "metric": "diagonal_dominant_classes",
                             "value": float(diagonal_dominance(classes))})
            if mode == "vv":
                values = classes.cpu().numpy()
                rows += [{"split": mode, "metric": f"class_{measure}_{a}_{b}",
                          "value": float(values[a, b])}
                         for a in range(n_classes) for b in range(n_classes)]
                if measure == "cos" and superclass is not None:
                    rows += _group_rows(classes, np.asarray(superclass), options)
        if same:
            rows += _distance_rows(mode, both.cos[rows_of, cols_of], both.sign[rows_of, cols_of],
                                   x[rows_of], labels1, options)
    return rows


def stiffness_probe(model: nn.Module, inputs: Mapping[str, InputSet], options: Options
                    ) -> list[Row]:
    """The ``stiffness`` probe (fort2019 §4), with the experiment's ``stiffness:`` settings and
    the run's loss (cross-entropy when the run names none)."""
    return stiffness_rows(model, inputs, options.loss or "cross_entropy", options.settings)
