"""Resuming from a saved state gives exactly the uninterrupted trajectory and metrics (CPU)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from trainlens.data.corruption import label_noise_key
from trainlens.experiments.train_config import TrainConfig
from trainlens.models.loukas import FIRST_BIAS
from trainlens.training.ensemble import train_ensemble
from trainlens.training.group import build_member, repeat_groups, train_config
from trainlens.training.hooks import BiasTrajectoryHook, LossHook
from trainlens.training.job import JobState
from trainlens.training.recorder import MetricLog
from trainlens.training.seeds import RunStreams


def _run(config: dict, epochs: int, state: Path | None, fresh_members: bool = True,
         knobs: bool = False):
    members = [build_member(config, m, Path("data"), torch.device("cpu"))
               for m in config["members"][::3]]
    train = TrainConfig(**{**vars(train_config(config)), "epochs": epochs})
    log = MetricLog(members[0].split.x_train.shape[0])
    groups = repeat_groups({"members": config["members"][::3]})
    hooks = [LossHook(log), BiasTrajectoryHook(log, FIRST_BIAS, groups, trace=True)]
    # the same fingerprint for both lengths: the 8-epoch job resumes the 4-epoch one's state
    job = JobState(state, 0.0, {"group_id": "resume-test"}) if state is not None else None
    extra = {}
    if knobs:  # issue 29: per-step Gaussian target noise (and weight decay) on some members
        extra = {"label_noises": [0.3 * (k % 2) for k in range(len(members))],
                 "weight_decays": [0.01 * (k % 3) for k in range(len(members))],
                 "label_noise_keys": [label_noise_key(RunStreams(m.seed).seed_sequence(
                     "label_noise")) for m in members]}
    result = train_ensemble([copy.deepcopy(m.model) for m in members], [m.split for m in members],
                            train, [m.order_rng for m in members], hooks,
                            lrs=[m.lr for m in members], job=job, keep=[log], **extra)
    return result, log.frame([m.run_id for m in members]), hooks[1].trace_arrays()


@pytest.mark.parametrize("knobs", [False, True], ids=["plain", "label-noise-weight-decay"])
def test_resume_after_half_the_epochs_is_bitwise_identical(tmp_path, e1a_smoke_config, knobs):
    straight, straight_frame, straight_trace = _run(e1a_smoke_config, 8, None, knobs=knobs)
    state = tmp_path / "state"
    _run(e1a_smoke_config, 4, state, knobs=knobs)  # stops after epoch 4, leaving its state
    resumed, resumed_frame, resumed_trace = _run(e1a_smoke_config, 8, state, knobs=knobs)
    assert resumed.steps == straight.steps
    for name in straight.params:
        assert torch.equal(resumed.params[name], straight.params[name]), name
    assert straight_frame.equals(resumed_frame)
    for key, value in straight_trace.items():
        assert np.array_equal(value, resumed_trace[key], equal_nan=True), key
