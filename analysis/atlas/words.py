"""The atlas's names in words, for figure labels and the report (labels are words, never table
columns: trainlens.figure_checks)."""

from __future__ import annotations

import numpy as np

# measure -> label (mathtext for symbols: $\mathrm{PR}_W$ is not snake_case)
MEASURES = {
    "lambda_train_mean": "λ near train data (mean)",
    "lambda_train_max": "λ near train data (max)",
    "lambda_test_mean": "λ near test data (mean)",
    "lambda_far_mean": "far-field λ (mean)",
    "tau": "τ (last 10 epochs)",
    "variance_v": "bias variance V",
    "distance_d": "bias distance d",
    "gc": "geometric complexity",
    "stiffness_cos_delta": "stiffness Δ (cosine)",
    "stiffness_sign_delta": "stiffness Δ (sign)",
    "xi": "critical length ξ",
    "ntk_diagonal": "NTK diagonal",
    "pr_w": r"$\mathrm{PR}_W$ (first layer)",
    "train_loss": "train loss",
    "test_loss": "test loss",
    "train_error": "train error",
    "test_error": "test error",
    "gen_gap": "generalization gap",
}
KNOBS = {
    "base": "base point",
    "data.frequency": "target frequency",
    "train.lr": "learning rate",
    "train.weight_decay": "L2",
    "data.target_noise": "target noise (fixed)",
    "data.label_corruption": "label noise (fixed)",
    "train.label_noise": "label noise (per step)",
    "model.width": "width",
    "model.hidden_layers": "depth",
    "train.batch_size": "batch size",
}
SETTINGS = {
    "sinusoid_mlp": "sinusoid regression, MLP",
    "mnist_mlp": "MNIST 4 vs 9, MLP",
    "mnist_cnn": "MNIST 4 vs 9, CNN",
}


def _words(name: str) -> str:
    return name.replace(".", " ").replace("_", " ")


def measure(name: str) -> str:
    return MEASURES.get(name, _words(name))


def measure_text(name: str) -> str:
    """The measure's label for Markdown (no mathtext)."""
    return measure(name).replace(r"$\mathrm{PR}_W$", "PR_W")


def knob(name: str) -> str:
    return KNOBS.get(name, _words(name))


def setting(name: str) -> str:
    return SETTINGS.get(name, _words(name))


def setting_order(names) -> list[str]:
    """The settings in the study's order (sinusoid, MNIST MLP, MNIST CNN), others after."""
    names = list(dict.fromkeys(names))
    known = [s for s in SETTINGS if s in names]
    return known + sorted(n for n in names if n not in SETTINGS)


def knob_setting(varied: str, value: float) -> str:
    """A run's knob in words with its value, e.g. "learning rate 0.05"; the base point alone."""
    if varied == "base" or not np.isfinite(value):
        return knob(varied)
    return f"{knob(varied)} {value:g}"
