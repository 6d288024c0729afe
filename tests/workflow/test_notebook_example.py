"""The README's "Notebook API" example, run literally on the smoke build (the session fixture
``smoke_build``): its claims table is the build's claims.tsv and its figure draws data."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from test_workflow import REPO

from trainlens.listing import declared_figures


def readme_example(readme: Path = REPO / "README.md") -> str:
    """The first ```python block of the README's "## Notebook API" section."""
    text = readme.read_text()
    section = text.split("\n## Notebook API\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"^```python\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)
    assert match, "README.md: the Notebook API section has no python block"
    return match.group(1)


def example_figure(code: str) -> str:
    """The figure stem that the example redraws."""
    (stem,) = re.findall(r'r\.figure\("(\w+)"\)', code)
    return stem


def axes_with_data(fig) -> int:
    """How many axes of ``fig`` draw at least one finite point (a line, a collection or a
    patch with a non-zero extent)."""
    def has_data(ax) -> bool:
        lines = any(np.isfinite(np.asarray(line.get_ydata(), dtype=float)).any()
                    for line in ax.lines)
        collections = any(len(c.get_paths()) or len(c.get_offsets()) for c in ax.collections)
        patches = any(p.get_height() != 0 for p in ax.patches if hasattr(p, "get_height"))
        return lines or collections or patches

    return sum(has_data(ax) for ax in fig.axes)


def test_the_example_names_what_exists() -> None:
    """Without a build: the block compiles, and its figure is one loukas2021 registers."""
    code = readme_example()
    compile(code, "README.md (Notebook API)", "exec")
    assert example_figure(code) in declared_figures(REPO, "loukas2021")


@pytest.mark.slow
def test_readme_notebook_example_on_the_smoke_build(smoke_build, monkeypatch, tmp_path) -> None:
    root, done = smoke_build
    assert done.returncode == 0, done.stderr[-5000:]
    monkeypatch.chdir(root)  # the example finds the repository from the current folder
    namespace: dict = {}
    code = readme_example()
    exec(compile(code, "README.md (Notebook API)", "exec"), namespace)
    r, fig = namespace["r"], namespace["fig"]
    assert r.root == root.resolve()
    built = pd.read_csv(root / "results" / "smoke" / "loukas2021" / "claims.tsv", sep="\t",
                        keep_default_na=False)
    pd.testing.assert_frame_equal(r.claims, built)
    assert axes_with_data(fig) >= 1
    assert fig._suptitle is not None and "smoke scale" in fig._suptitle.get_text()
    # the redraw is the build's figure, pixel for pixel, saved as the build saves it
    # (plotting.use_style: 150 dpi, tight bounding box)
    fig.savefig(tmp_path / "redrawn.png", dpi=150, bbox_inches="tight")
    redrawn = plt.imread(tmp_path / "redrawn.png")
    saved = plt.imread(root / "figures" / "smoke" / "loukas2021" / f"{example_figure(code)}.png")
    assert redrawn.shape == saved.shape and np.array_equal(redrawn, saved)
