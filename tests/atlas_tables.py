"""Synthetic atlas runs and metrics tables in the contract of the atlas study (analysis/atlas/
notes.md): three settings, a base point and one-at-a-time knob variations, two seeds, one
diverged run; each run's measures grow with a hidden complexity c, with noise."""

from __future__ import annotations

import numpy as np
import pandas as pd

KNOBS = {"sinusoid_mlp": {"data.frequency": (2.0, 4.0), "train.lr": (0.01, 0.1),
                          "train.weight_decay": (1e-4, 1e-3)},
         "mnist_mlp": {"train.lr": (0.01, 0.1), "data.label_corruption": (0.1, 0.3),
                       "train.label_noise": (0.05, 0.2)},
         "mnist_cnn": {"train.lr": (0.01, 0.1), "model.width": (16.0, 64.0)}}
BASE = {"data_frequency": 1.0, "train_lr": 0.03, "train_weight_decay": 0.0,
        "data_label_corruption": 0.0, "train_label_noise": 0.0, "model_width": 32.0}
CHECKPOINTS = (0, 50, 100, 200)
EPOCH_STEPS = 20


def _metrics(run_id: str, setting: str, c: float, rng: np.random.Generator) -> list[dict]:
    rows = []

    def log(metric: str, split: str, step: int, value: float) -> None:
        rows.append({"run_id": run_id, "step": step, "epoch": step / EPOCH_STEPS,
                     "split": split, "metric": metric, "value": float(value)})

    for step in range(EPOCH_STEPS, CHECKPOINTS[-1] + 1, EPOCH_STEPS):
        t = step / CHECKPOINTS[-1]
        log("trajectory_mean", "train", step, c * (1 + t) + rng.normal(0, 0.1))
        log("update_variance", "train", step, 0.01 * c * t)
        log("distance_from_init", "train", step, c * t + rng.normal(0, 0.05))
    for step in CHECKPOINTS:
        t = step / CHECKPOINTS[-1]

        def noisy(scale: float, t: float = t) -> float:
            return c * (0.2 + t) * np.exp(rng.normal(0, scale))

        log("lipschitz_mean", "train", step, noisy(0.1))
        log("lipschitz_max", "train", step, 3 * noisy(0.2))
        log("lipschitz_mean", "test", step, noisy(0.1))
        log("geometric_complexity_mean", "train", step, noisy(0.3))
        log("ntk_diagonal_mean", "train", step, noisy(0.5))
        log("weight_participation_ratio", "params", step, 10 - c * t + rng.normal(0, 0.3))
        train_loss = 0.5 * (1 - t) + 0.05
        log("checkpoint_loss", "train", step, train_loss)
        log("checkpoint_loss", "test", step, train_loss + 0.1 * c * t + rng.normal(0, 0.02))
        if setting == "sinusoid_mlp":
            log("far_field_lipschitz_mean", "far_field", step, 2 * noisy(0.3))
            continue
        log("checkpoint_error", "train", step, 0.2 * (1 - t))
        log("checkpoint_error", "test", step, 0.2 * (1 - t) + 0.02 * c * t)
        log("stiffness_within_cos", "vv", step, 0.9 - 0.1 * c * t)
        log("stiffness_between_cos", "vv", step, 0.2 + rng.normal(0, 0.02))
        log("stiffness_within_sign", "vv", step, 1.0 - 0.1 * c * t)
        log("stiffness_between_sign", "vv", step, 0.3 + rng.normal(0, 0.02))
        censored = rng.random() < 0.2
        log("xi_fit", "vv", step, 1.0 / c + rng.normal(0, 0.01))
        log("xi_fit_status", "vv", step, 2.0 if censored else 0.0)
    return rows


def synthetic_tables(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, metrics) of the synthetic atlas."""
    rng = np.random.default_rng(seed)
    runs, metrics = [], []
    for setting, knobs in KNOBS.items():
        points = [("base", None)] + [(k, v) for k, values in knobs.items() for v in values]
        for varied, value in points:
            for run_seed in (0, 1):
                run_id = f"{setting}-{varied}-{value}-{run_seed}"
                settings = dict(BASE)
                if varied != "base":
                    settings[varied.replace(".", "_")] = value
                runs.append({"run_id": run_id, "paper": "atlas", "experiment": setting,
                             "group_id": setting, "seed": run_seed, "status": "ok",
                             "diverged_step": np.nan, "wall_time_s": 1.0, "device": "cpu",
                             "git_commit": "0" * 7, "varied": varied, **settings})
                metrics += _metrics(run_id, setting, float(rng.lognormal(0, 0.5)), rng)
    runs.append({**runs[-1], "run_id": "mnist_cnn-diverged", "status": "diverged",
                 "diverged_step": 30.0})
    metrics += _metrics("mnist_cnn-diverged", "mnist_cnn", 100.0, rng)
    return pd.DataFrame(runs), pd.DataFrame(metrics)
