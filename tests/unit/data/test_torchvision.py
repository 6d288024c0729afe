"""trainlens.data.torchvision on tiny files written in the exact on-disk formats torchvision reads.

MNIST-like: big-endian IDX files (magic 2051 images, 2049 labels) in ``<root>/<Class>/raw`` plus
their ``.gz`` archives. CIFAR: pickled dicts of ``data`` (N x 3072 uint8, R then G then B planes,
each 32x32 row-major) and labels. Expected values are computed here from the bytes written.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets as tvd
from tiny_datasets import (  # tests/tiny_datasets.py; tests/ is on sys.path via conftest.py
    CIFAR100_FINE_TO_COARSE,
    MNIST_FILES,
    checksums_of,
    dump,
    md5,
    write_cifar10,
    write_cifar100,
    write_mnist,
)

from trainlens.data.preprocess import preprocess
from trainlens.data.torchvision import cache, verify
from trainlens.data.torchvision.fetch import download
from trainlens.data.torchvision.load import load_torchvision, loader
from trainlens.data.torchvision.sources import SOURCES, TorchvisionConfig
from trainlens.data.torchvision.verify import verify_files


def first_n_per_class(labels, classes, n) -> list[int]:
    """Row indices kept by classes + first-n-per-class, by a plain scan in file order."""
    seen = dict.fromkeys(classes, 0)
    kept = []
    for i, label in enumerate(labels):
        if label in seen and seen[label] < n:
            seen[label] += 1
            kept.append(i)
    return kept


def test_mnist_shapes_values_and_first_n_per_class(tmp_path: Path) -> None:
    arrays = write_mnist(tmp_path)
    config = TorchvisionConfig("mnist", classes=(7, 2), n_train_per_class=2, n_test_per_class=1,
                               normalize_mean=0.1307, normalize_std=0.3081)
    split = load_torchvision(config, np.random.default_rng(), tmp_path, checksums_of(tmp_path))
    for prefix, x, y, n in (("train", split.x_train, split.y_train, 2),
                            ("t10k", split.x_test, split.y_test, 1)):
        images, labels = arrays[prefix]
        kept = first_n_per_class(labels.tolist(), (7, 2), n)
        assert len(kept) == 2 * n
        assert x.shape == (2 * n, 1, 28, 28) and x.dtype == torch.float32
        assert y.dtype == torch.int64
        assert y.tolist() == [0 if labels[i] == 7 else 1 for i in kept]
        expected = (images[kept].astype(np.float64) / 255 - 0.1307) / 0.3081
        np.testing.assert_allclose(x[:, 0].numpy(), expected, rtol=0, atol=1e-5)


def test_fashion_mnist_full_and_flat(tmp_path: Path) -> None:
    arrays = write_mnist(tmp_path, folder="FashionMNIST", n_train=12, n_test=7)
    sums = checksums_of(tmp_path)
    split = load_torchvision(TorchvisionConfig("fashion_mnist", flatten=True), None, tmp_path, sums)
    images, labels = arrays["train"]
    assert split.x_train.shape == (12, 784) and split.x_test.shape == (7, 784)
    assert split.y_train.tolist() == labels.tolist()
    np.testing.assert_allclose(split.x_train.numpy(),
                               (images.reshape(12, -1) / 255 - 0.5) / 0.5, atol=1e-6)


def test_mnist_ignores_legacy_processed_cache(tmp_path: Path) -> None:
    arrays = write_mnist(tmp_path)
    sums = checksums_of(tmp_path)
    processed = tmp_path / "MNIST" / "processed"
    processed.mkdir()
    fake = (torch.zeros(3, 28, 28, dtype=torch.uint8), torch.zeros(3, dtype=torch.int64))
    for name in ("training.pt", "test.pt"):
        torch.save(fake, processed / name)
    split = load_torchvision(TorchvisionConfig("mnist"), None, tmp_path, sums)
    assert split.y_train.tolist() == arrays["train"][1].tolist()


def test_cifar10_layout_and_values(tmp_path: Path) -> None:
    arrays = write_cifar10(tmp_path)
    split = load_torchvision(TorchvisionConfig("cifar10", normalize_mean=0.2, normalize_std=0.7),
                             None, tmp_path, checksums_of(tmp_path))
    rows, labels = arrays["train"]
    assert split.x_train.shape == (30, 3, 32, 32) and split.x_test.shape == (12, 3, 32, 32)
    assert split.x_train.dtype == torch.float32 and split.y_train.dtype == torch.int64
    assert split.y_train.tolist() == labels and split.y_test.tolist() == arrays["test"][1]
    for i, c, h, w in ((0, 0, 0, 0), (7, 1, 2, 3), (29, 2, 31, 30), (13, 2, 5, 17)):
        pixel = rows[i, c * 1024 + h * 32 + w]
        assert split.x_train[i, c, h, w].item() == pytest.approx((pixel / 255 - 0.2) / 0.7,
                                                                 abs=1e-6)
    expected = (rows.reshape(30, 3, 32, 32) / 255 - 0.2) / 0.7
    np.testing.assert_allclose(split.x_train.numpy(), expected, atol=1e-6)


def test_cifar10_classes_and_n_per_class(tmp_path: Path) -> None:
    arrays = write_cifar10(tmp_path)
    config = TorchvisionConfig("cifar10", classes=(3, 0, 9), n_test_per_class=1)
    split = load_torchvision(config, None, tmp_path, checksums_of(tmp_path))
    train_rows, train_labels = arrays["train"]
    kept = [i for i, label in enumerate(train_labels) if label in (3, 0, 9)]
    assert split.y_train.tolist() == [(3, 0, 9).index(train_labels[i]) for i in kept]
    np.testing.assert_allclose(split.x_train.reshape(len(kept), -1).numpy(),
                               train_rows[kept] / 255 * 2 - 1, atol=1e-6)
    test_kept = first_n_per_class(arrays["test"][1], (3, 0, 9), 1)
    assert split.y_test.tolist() == [(3, 0, 9).index(arrays["test"][1][i]) for i in test_kept]


def test_cifar100_fine_and_coarse_labels(tmp_path: Path) -> None:
    arrays = write_cifar100(tmp_path)
    sums = checksums_of(tmp_path)
    fine = load_torchvision(TorchvisionConfig("cifar100"), None, tmp_path, sums)
    assert fine.y_train.tolist() == arrays["train"][1] and fine.y_test.tolist() == arrays["test"][1]
    # the fine -> coarse map (fort2019 E3); classes without a training image map to -1
    present = set(arrays["train"][1])
    superclass = fine.extras["superclass"]
    assert superclass.dtype == np.int64 and superclass.shape == (100,)
    assert superclass.tolist() == [int(CIFAR100_FINE_TO_COARSE[c]) if c in present else -1
                                   for c in range(100)]
    coarse = load_torchvision(TorchvisionConfig("cifar100", coarse_labels=True, flatten=True),
                              None, tmp_path, sums)
    assert coarse.y_train.tolist() == arrays["train"][2]
    assert coarse.y_test.tolist() == arrays["test"][2]
    assert coarse.extras == {}  # the labels are the super-classes already
    assert coarse.x_train.shape == (40, 3072)
    np.testing.assert_allclose(coarse.x_test.numpy(), arrays["test"][0] / 255 * 2 - 1, atol=1e-6)
    picked = load_torchvision(TorchvisionConfig("cifar100", coarse_labels=True, classes=(4, 11)),
                              None, tmp_path, sums)
    wanted = [c for c in arrays["train"][2] if c in (4, 11)]
    assert picked.y_train.tolist() == [(4, 11).index(c) for c in wanted]


def test_cifar100_superclass_map_follows_classes(tmp_path: Path) -> None:
    arrays = write_cifar100(tmp_path, n_train=60)
    present = sorted(set(arrays["train"][1]))
    classes = (present[-1], present[0], present[3])
    config = TorchvisionConfig("cifar100", classes=classes, n_train_per_class=1)
    split = load_torchvision(config, None, tmp_path, checksums_of(tmp_path))
    kept = first_n_per_class(arrays["train"][1], classes, 1)
    assert split.y_train.tolist() == [classes.index(arrays["train"][1][i]) for i in kept]
    # entry i is the super-class of classes[i], the fine class relabelled i
    assert split.extras["superclass"].tolist() == [int(CIFAR100_FINE_TO_COARSE[c]) for c in classes]
    assert split.extras["superclass"].dtype == np.int64


def test_cifar100_inconsistent_superclasses_are_an_error(tmp_path: Path) -> None:
    arrays = write_cifar100(tmp_path)
    data, fine, coarse = arrays["train"]
    fine[1], coarse[1] = fine[0], (coarse[0] + 1) % 20  # one fine class, two super-classes
    dump(tmp_path / "cifar-100-python" / "train",
         {"data": data, "fine_labels": fine, "coarse_labels": coarse})
    with pytest.raises(ValueError, match=rf"fine class {fine[0]} has coarse labels "
                                         rf"\[{min(coarse[:2])}, {max(coarse[:2])}\]"):
        load_torchvision(TorchvisionConfig("cifar100"), None, tmp_path, checksums_of(tmp_path))
    # with coarse labels as the targets no map is built, so nothing is checked
    split = load_torchvision(TorchvisionConfig("cifar100", coarse_labels=True), None, tmp_path,
                             checksums_of(tmp_path))
    assert split.y_train.tolist() == coarse


def test_preprocess_runs_last_on_the_final_tensors(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    sums = checksums_of(tmp_path)
    for flatten in (False, True):
        plain = load_torchvision(TorchvisionConfig("cifar10", flatten=flatten), None, tmp_path,
                                 sums)
        done = load_torchvision(TorchvisionConfig("cifar10", flatten=flatten,
                                                  preprocess="standardize_unit_norm"),
                                None, tmp_path, sums)
        assert done.x_train.shape == plain.x_train.shape and done.x_train.dtype == torch.float32
        assert torch.equal(done.y_train, plain.y_train)
        assert plain.extras == done.extras == {}  # the super-class map is cifar100's only
        expected = preprocess(plain.x_train, plain.x_test, "standardize_unit_norm")
        assert torch.equal(done.x_train, expected[0]) and torch.equal(done.x_test, expected[1])
        flat = done.x_test.reshape(len(done.x_test), -1).double()
        np.testing.assert_allclose(flat.norm(dim=1).numpy(), 1.0, rtol=0, atol=1e-6)


def test_too_few_images_per_class_is_an_error(tmp_path: Path) -> None:
    write_mnist(tmp_path, n_train=30)  # 3 images of each digit
    config = TorchvisionConfig("mnist", classes=(1, 2), n_train_per_class=4)
    with pytest.raises(ValueError, match="n_train_per_class = 4.*only 3 images of class 0"):
        load_torchvision(config, None, tmp_path, checksums_of(tmp_path))


def test_missing_file_names_file_folder_and_command(tmp_path: Path) -> None:
    write_mnist(tmp_path)
    sums = checksums_of(tmp_path)
    (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError) as err:
        load_torchvision(TorchvisionConfig("mnist"), None, tmp_path, sums)
    message = str(err.value)
    assert "t10k-labels-idx1-ubyte " in message and "train-labels" not in message
    assert str(tmp_path.resolve() / "MNIST" / "raw") in message
    assert "snakemake --cores 1 data/mnist/.verified" in message
    assert f"trainlens download --dataset mnist --data-root {tmp_path}" in message


def test_official_table_lists_every_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as err:
        verify_files("cifar100", tmp_path)
    for name in ("train", "test", "meta"):
        assert f"\n  {name}  (must be in {tmp_path.resolve() / 'cifar-100-python'}/)" in str(
            err.value)
    with pytest.raises(FileNotFoundError) as err:
        verify_files("fashion_mnist", tmp_path)
    for name in MNIST_FILES:
        assert f"{name}.gz " in str(err.value) and f"{name} " in str(err.value)
    assert str(tmp_path.resolve() / "FashionMNIST" / "raw") in str(err.value)


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_corrupt_file_is_named(tmp_path: Path, damage: str) -> None:
    write_cifar10(tmp_path)
    sums = checksums_of(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    blob = bytearray(path.read_bytes())
    if damage == "flip":
        blob[len(blob) // 2] ^= 0xFF
    else:
        del blob[-10:]
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError) as err:
        load_torchvision(TorchvisionConfig("cifar10"), None, tmp_path, sums)
    message = str(err.value)
    expected = sums["cifar-10-batches-py/data_batch_3"]
    assert f"data_batch_3: expected MD5 {expected}, got {md5(path)}" in message
    assert "data_batch_1" not in message and "Delete the file" in message


def test_official_checksums_reject_tiny_files(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    with pytest.raises(ValueError) as err:
        verify_files("cifar10", tmp_path)
    message = str(err.value)
    official_md5 = dict(tvd.CIFAR10.test_list)["test_batch"]
    test_batch = tmp_path / "cifar-10-batches-py" / "test_batch"
    assert f"test_batch: expected MD5 {official_md5}, got {md5(test_batch)}" in message
    assert tvd.CIFAR10.meta["md5"] in message and "download again" in message


def test_mnist_archive_checked_against_official_md5(tmp_path: Path) -> None:
    write_mnist(tmp_path)
    with pytest.raises(ValueError) as err:
        verify_files("mnist", tmp_path)
    official = dict(tvd.MNIST.resources)["train-images-idx3-ubyte.gz"]
    assert f"train-images-idx3-ubyte.gz: expected MD5 {official}" in str(err.value)


def patch_mnist_table(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Make torchvision's own MNIST table hold the tiny archives' MD5s (read at call time)."""
    sums = checksums_of(root)
    monkeypatch.setattr(tvd.MNIST, "resources",
                        [(f"{n}.gz", sums[f"MNIST/raw/{n}.gz"]) for n in MNIST_FILES])


def test_extracted_file_checked_against_its_archive(tmp_path: Path, monkeypatch) -> None:
    arrays = write_mnist(tmp_path)
    patch_mnist_table(monkeypatch, tmp_path)
    split = loader("mnist")(TorchvisionConfig("mnist"), None, tmp_path)
    assert split.y_test.tolist() == arrays["t10k"][1].tolist()
    path = tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-28])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte: expected MD5 .* decompressed"):
        verify_files("mnist", tmp_path)


def test_path_outside_data_root_is_rejected(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "inner").mkdir(parents=True)
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"x")
    with pytest.raises(ValueError, match="outside the data root"):
        verify_files("mnist", root, {"../outside.bin": md5(outside)})
    (root / "link").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(ValueError, match="outside the data root"):
        verify_files("mnist", root, {"link/outside.bin": md5(outside)})
    (root / "inner" / "ok.bin").write_bytes(b"x")
    verify_files("mnist", root, {"inner/../inner/ok.bin": md5(root / "inner" / "ok.bin")})


def test_sources_match_torchvision_layout() -> None:
    assert SOURCES["mnist"].folder == f"{tvd.MNIST.__name__}/raw"
    assert SOURCES["fashion_mnist"].folder == f"{tvd.FashionMNIST.__name__}/raw"
    assert SOURCES["cifar10"].folder == tvd.CIFAR10.base_folder == "cifar-10-batches-py"
    assert SOURCES["cifar100"].folder == tvd.CIFAR100.base_folder == "cifar-100-python"
    files = {f.relpath: f.md5 for f in SOURCES["cifar100"].files()}
    assert files == {"cifar-100-python/train": "16019d7e3df5f24257cddd939b257f8d",
                     "cifar-100-python/test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
                     "cifar-100-python/meta": "7973b15100ade9c7d40fb424638fde48"}
    assert len(SOURCES["cifar10"].files()) == 7


@pytest.mark.parametrize(("kwargs", "key"), [
    ({"name": "svhn"}, "data.name"),
    ({"name": "mnist", "classes": (0, 10)}, "data.classes"),
    ({"name": "mnist", "classes": (3, 3)}, "data.classes"),
    ({"name": "cifar100", "classes": (0, 20), "coarse_labels": True}, "data.classes"),
    ({"name": "cifar10", "coarse_labels": True}, "data.coarse_labels"),
    ({"name": "mnist", "n_train_per_class": 0}, "data.n_train_per_class"),
    ({"name": "mnist", "n_test_per_class": 1.5}, "data.n_test_per_class"),
    ({"name": "mnist", "normalize_std": 0.0}, "data.normalize_std"),
    ({"name": "mnist", "normalize_mean": float("nan")}, "data.normalize_mean"),
    ({"name": "mnist", "preprocess": "zscore"}, "data.preprocess"),
])
def test_config_validation(kwargs: dict, key: str) -> None:
    with pytest.raises(ValueError, match=key):
        TorchvisionConfig(**kwargs)


def test_config_accepts_lists_and_loader_checks_name(tmp_path: Path) -> None:
    config = TorchvisionConfig("cifar100", classes=[99, 0])
    assert config.classes == (99, 0)
    with pytest.raises(ValueError, match="'mnist' loader"):
        loader("mnist")(TorchvisionConfig("cifar10"), None, tmp_path)
    with pytest.raises(ValueError, match="data.name"):
        loader("svhn")


def test_download_moves_verified_files_and_stamps(tmp_path: Path, monkeypatch) -> None:
    """The download flow offline: torchvision's MNIST.download is replaced by a local writer."""
    source = tmp_path / "source"
    arrays = write_mnist(source)
    patch_mnist_table(monkeypatch, source)

    def fake_download(self) -> None:
        for path in (source / "MNIST" / "raw").iterdir():
            Path(self.raw_folder).mkdir(parents=True, exist_ok=True)
            (Path(self.raw_folder) / path.name).write_bytes(path.read_bytes())

    monkeypatch.setattr(tvd.MNIST, "download", fake_download)
    root = tmp_path / "data"
    stamp = download("mnist", root)
    assert stamp == root.resolve() / "mnist" / ".verified"
    record = json.loads(stamp.read_text())
    assert record["files"] == checksums_of(source) and len(record["files"]) == 8
    assert record["torchvision"] == __import__("torchvision").__version__
    assert record["verified_at"].endswith("+00:00")
    assert sorted(p.name for p in root.iterdir()) == ["MNIST", "mnist"]  # staging removed
    split = load_torchvision(TorchvisionConfig("mnist"), None, root)
    assert split.y_train.tolist() == arrays["train"][1].tolist()

    def no_network(self) -> None:
        raise AssertionError("verified files must not be fetched again")

    monkeypatch.setattr(tvd.MNIST, "download", no_network)
    assert download("mnist", root) == stamp


def test_download_rejects_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="data.name must be one of"):
        download("svhn", tmp_path)


def test_members_of_a_job_share_one_verified_read(tmp_path: Path, monkeypatch) -> None:
    """A job loads its dataset once per member: the files are hashed and decoded once per
    process, each member still gets its own tensors, and a file changed since is checked again."""
    write_cifar10(tmp_path)
    sums = checksums_of(tmp_path)
    hashed: list[Path] = []
    real_md5 = verify._md5
    monkeypatch.setattr(verify, "_md5", lambda path, *a: hashed.append(path) or real_md5(path, *a))
    first = load_torchvision(TorchvisionConfig("cifar10"), None, tmp_path, sums)
    n_files = len(hashed)
    second = load_torchvision(TorchvisionConfig("cifar10", classes=(0, 1, 2), n_train_per_class=2),
                              None, tmp_path, sums)
    assert len(hashed) == n_files  # not hashed again
    assert torch.equal(second.x_train, first.x_train[_first_two_of(first.y_train, (0, 1, 2))])
    first.y_train[0] = 99  # a member's tensors are its own
    assert load_torchvision(TorchvisionConfig("cifar10"), None, tmp_path, sums).y_train[0] != 99
    path = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="data_batch_3: expected MD5"):
        load_torchvision(TorchvisionConfig("cifar10"), None, tmp_path, sums)


def _first_two_of(labels: torch.Tensor, classes: tuple[int, ...]) -> torch.Tensor:
    keep = torch.zeros(len(labels), dtype=torch.bool)
    for c in classes:
        keep[torch.nonzero(labels == c).flatten()[:2]] = True
    return keep


def test_download_stores_the_decoded_sets_that_jobs_read(tmp_path: Path, monkeypatch) -> None:
    """After a verified download a job reads the decoded copy (no MD5 of the data files, no
    torchvision reader), with the same tensors; a data file changed since, or a damaged copy,
    sends it back to checking and decoding the files."""
    write_cifar100(tmp_path, n_train=200, n_test=100)
    sums = checksums_of(tmp_path)
    config = TorchvisionConfig("cifar100", n_train_per_class=2, preprocess="standardize_unit_norm")
    decoded_by_torchvision = load_torchvision(config, None, tmp_path, sums)
    stamp = download("cifar100", tmp_path, sums)
    assert json.loads(stamp.read_text())["decoded"]["file"] == "decoded.npz"
    cache._READ_CACHE.clear()
    read: list[str] = []
    for module in (verify, cache):  # data files are hashed in verify, the copy in cache
        monkeypatch.setattr(module, "_md5",
                            lambda path, *a: read.append(Path(path).name) or md5(path))
    monkeypatch.setattr(cache, "_decode", lambda *a: pytest.fail("decoded again"))
    from_copy = load_torchvision(config, None, tmp_path, sums)
    assert read == ["decoded.npz"]  # only the copy is hashed
    for field in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(from_copy, field), getattr(decoded_by_torchvision, field))
    assert np.array_equal(from_copy.extras["superclass"],
                          decoded_by_torchvision.extras["superclass"])
    monkeypatch.undo()
    cache._READ_CACHE.clear()
    copy = stamp.parent / "decoded.npz"
    blob = bytearray(copy.read_bytes())
    blob[-100] ^= 0xFF
    copy.write_bytes(bytes(blob))
    assert torch.equal(load_torchvision(config, None, tmp_path, sums).x_train,
                       decoded_by_torchvision.x_train)  # the files again, not the bad copy
    download("cifar100", tmp_path, sums)
    path = tmp_path / "cifar-100-python" / "train"
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="train: expected MD5"):
        load_torchvision(config, None, tmp_path, sums)  # changed after its download: checked


def test_a_job_reading_the_decoded_copy_does_not_import_torchvision(tmp_path: Path) -> None:
    import subprocess
    import sys

    write_cifar10(tmp_path)
    sums = tmp_path / "sums.json"
    sums.write_text(json.dumps(checksums_of(tmp_path)))
    download("cifar10", tmp_path, json.loads(sums.read_text()))
    code = (f"import sys, json\nfrom trainlens.data.torchvision.sources import TorchvisionConfig\n"
            f"from trainlens.data.torchvision.load import loader\n"
            f"c = TorchvisionConfig('cifar10', checksums_file={str(sums)!r})\n"
            f"s = loader('cifar10')(c, None, {str(tmp_path)!r})\n"
            f"print(len(s.y_train), 'torchvision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["30", "False"]  # 5 batches of 6 images
