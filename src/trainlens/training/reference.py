"""The plain PyTorch loop: one model, ``torch.optim.SGD``, one sample at a time.

This is how the official loukas2021 code trains, and the baseline the ensemble trainer is checked
against (tests: same trajectories to 1e-10 in float64) and timed against (benchmarks: 16
sequential runs vs one 16-member ensemble). It walks the same per-epoch permutations from the same
order stream, so both see identical batches.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from trainlens.data.corruption import noisy_targets
from trainlens.experiments.train_config import TrainConfig
from trainlens.losses import LOSSES
from trainlens.splits import Split


def train_alone(model: nn.Module, split: Split, config: TrainConfig,
                order_rng: np.random.Generator, lr: float | None = None,
                record: str | None = None, label_noise_key: int | None = None,
                n_classes: int | None = None) -> list[torch.Tensor]:
    """Train ``model`` in place; returns the value of parameter ``record`` after every step
    (empty if ``record`` is None).

    ``config.weight_decay`` is torch's own SGD weight decay on the weights (parameters with >= 2
    dims; biases in a group without decay); ``config.label_noise`` > 0 perturbs each batch's
    targets with ``noisy_targets`` at the 1-based step from ``label_noise_key`` (``n_classes``
    for classifiers, None for regression), as the ensemble does."""
    loss = LOSSES[config.loss]
    weights = [p for p in model.parameters() if p.dim() >= 2]
    biases = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": weights, "weight_decay": config.weight_decay},
              {"params": biases, "weight_decay": 0.0}]
    optimizer = torch.optim.SGD(groups, lr=lr if lr is not None else config.lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=config.lr_decay_per_epoch)
    parameters = dict(model.named_parameters())
    n_train = split.x_train.shape[0]
    trace, step = [], 0
    for _ in range(config.epochs):
        order = torch.from_numpy(order_rng.permutation(n_train))
        for b in range(config.steps_per_epoch(n_train)):
            index = order[b * config.batch_size:(b + 1) * config.batch_size]
            y, step = split.y_train[index], step + 1
            if config.label_noise > 0:
                y = noisy_targets(y[None], [config.label_noise], [label_noise_key],
                                  step, n_classes)[0]
            optimizer.zero_grad(set_to_none=True)
            loss.value(model(split.x_train[index]), y).mean().backward()
            optimizer.step()
            if record is not None:
                trace.append(parameters[record].detach().clone())
        scheduler.step()
    return trace
