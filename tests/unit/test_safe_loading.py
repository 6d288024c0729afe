"""Safe loading only: torch.load(weights_only=True) and yaml.safe_load; no other deserialiser.

The one pickle.load allowed reads CIFAR-100's own file format (its coarse labels, which
torchvision drops) after the file's MD5 was verified against torchvision's table.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ALLOWED_PICKLE = {"src/trainlens/data/torchvision/cache.py"}
UNSAFE = {("yaml", "load"), ("yaml", "unsafe_load"), ("yaml", "full_load"),
          ("yaml", "load_all"), ("pickle", "loads"), ("marshal", "loads"), ("dill", "load")}


def _calls(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and isinstance(node.func.value, ast.Name):
            yield node.func.value.id, node.func.attr, node


def _safe_yaml_loader(node: ast.Call) -> bool:
    """yaml.load with a safe loader: ``Loader=yaml.SafeLoader``/``yaml.CSafeLoader`` or the name
    SAFE_YAML_LOADER (trainlens.listing: libyaml's safe loader where PyYAML has it)."""
    for keyword in node.keywords:
        if keyword.arg == "Loader":
            value = keyword.value
            return (isinstance(value, ast.Attribute) and value.attr in {"SafeLoader",
                                                                         "CSafeLoader"}
                    or isinstance(value, ast.Name) and value.id == "SAFE_YAML_LOADER")
    return False


def _sources():
    for folder in ("src", "analysis", "benchmarks", "tests", "rules"):
        yield from (REPO / folder).rglob("*.py")
    yield from (REPO / "rules").glob("*.smk")


def offending_calls() -> list[str]:
    bad = []
    for path in _sources():
        if path.suffix == ".smk":
            text = path.read_text()
            bad += [f"{path}: {word}" for word in ("torch.load", "pickle.") if word in text]
            continue
        relative = str(path.relative_to(REPO))
        for module, name, node in _calls(path):
            where = f"{relative}:{node.lineno} {module}.{name}"
            if module == "torch" and name == "load":
                safe = any(k.arg == "weights_only" and isinstance(k.value, ast.Constant)
                           and k.value.value is True for k in node.keywords)
                bad += [] if safe else [where]
            elif (module, name) == ("yaml", "load") and _safe_yaml_loader(node):
                continue
            elif (module, name) in UNSAFE:
                bad.append(where)
            elif module == "pickle" and name == "load" and relative not in ALLOWED_PICKLE:
                bad.append(where)
    return bad


def test_no_unsafe_deserialisation_in_the_repository():
    assert offending_calls() == []


def test_the_check_catches_an_unsafe_call(tmp_path, monkeypatch):
    planted = REPO / "src" / "trainlens" / "_planted_unsafe_for_test.py"
    planted.write_text("import torch, yaml\ntorch.load('x')\nyaml.load(open('y'))\n")
    try:
        found = offending_calls()
    finally:
        planted.unlink()
    assert any("torch.load" in f for f in found) and any("yaml.load" in f for f in found)
