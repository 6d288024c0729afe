"""Shared figure style, the figure registry, and ``save_figure`` with provenance metadata.

Every figure is one function in ``analysis/<slug>/figures.py`` registered with ``@figures.figure``;
it reads tables only and returns a matplotlib Figure. ``save_figure`` titles it with its stem and
scale, writes pdf and png atomically (Agg backend) and embeds the git commit, the config hash of
the runs it shows, the scale and the package versions: in the PNG as text chunks, in the PDF's
Keywords field.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from trainlens.io import atomic_write  # noqa: E402
from trainlens.provenance import provenance  # noqa: E402

RECONSTRUCTED_NOTE = "Reconstructed figure: the paper's figure number and text were not recovered."
EXTENSION_NOTE = "Suite extension: not a figure of the paper."


@dataclass(frozen=True)
class FigureInputs:
    runs: pd.DataFrame
    metrics: pd.DataFrame
    scale: str
    regions: pd.DataFrame | None = None  # loukas2021 E2 grid analysis


@dataclass(frozen=True)
class FigureSpec:
    stem: str  # figNN_name, figRNN_name (reconstructed) or figXNN_name (extension)
    caption: str
    experiments: tuple[str, ...]
    draw: Callable[[FigureInputs], plt.Figure]

    @property
    def kind_note(self) -> str:
        """Reconstructed and extension figures say so in their caption (docs/design.md "Names")."""
        if self.stem.startswith("figR"):
            return RECONSTRUCTED_NOTE
        if self.stem.startswith("figX"):
            return EXTENSION_NOTE
        return ""

    @property
    def kind(self) -> str:
        return {"figR": "reconstructed figure", "figX": "suite extension"}.get(
            self.stem[:4], "paper figure")

    @property
    def full_caption(self) -> str:
        return f"{self.caption} {self.kind_note}".strip()


class FigureSet:
    """The figures of one paper, keyed by file stem."""

    def __init__(self, paper: str) -> None:
        self.paper = paper
        self.figures: dict[str, FigureSpec] = {}

    def figure(self, stem: str, caption: str, experiments: tuple[str, ...]):
        def register(draw: Callable[[FigureInputs], plt.Figure]):
            if stem in self.figures:
                raise ValueError(f"{self.paper}: figure {stem} registered twice")
            self.figures[stem] = FigureSpec(stem, caption, experiments, draw)
            return draw

        return register


def use_style() -> None:
    """One look for every figure of the suite."""
    sns.set_theme(context="paper", style="whitegrid", palette="viridis", font_scale=1.1)
    plt.rcParams.update({"figure.dpi": 120, "savefig.dpi": 150, "savefig.bbox": "tight"})


def categorical(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Make ``column`` an ordered categorical of its sorted values (seaborn hue order with
    pandas 3 string columns is unreliable otherwise)."""
    frame = frame.copy()
    frame[column] = pd.Categorical(frame[column], categories=sorted(frame[column].unique()),
                                   ordered=True)
    return frame


def scale_title(stem: str, scale: str, tiny_slice: bool = False) -> str:
    """The visible title of every figure: its stem and the scale its tables come from, so that a
    figure never passes for another scale's (a tiny slice says so too)."""
    return f"{stem} · {scale} scale" + (" · TINY SLICE (replicates nothing)" if tiny_slice else "")


def title_figure(fig: plt.Figure, stem: str, scale: str, tiny_slice: bool = False) -> plt.Figure:
    """Give ``fig`` its visible title (``scale_title``); the build and the notebook API
    (``trainlens.notebook``) both title through here, so a redrawn figure reads as the saved one."""
    fig.suptitle(scale_title(stem, scale, tiny_slice), fontsize=9, x=0.01, ha="left")
    return fig


def draw_figure(spec: FigureSpec, runs: pd.DataFrame, metrics: pd.DataFrame, scale: str,
                regions: pd.DataFrame | None = None) -> plt.Figure:
    """Draw one registered figure from the paper's tables: the runs of its experiments and their
    metrics only, in the suite's style (``trainlens plot`` and ``trainlens.notebook``)."""
    runs = runs[runs["experiment"].isin(spec.experiments)]
    use_style()
    return spec.draw(FigureInputs(runs, metrics[metrics["run_id"].isin(runs["run_id"])], scale,
                                  regions))


def save_figure(fig: plt.Figure, pdf_path: str | Path, png_path: str | Path, stem: str,
                caption: str, scale: str, config_hash: str, tiny_slice: bool = False) -> None:
    """Title ``fig`` with its stem and scale (``title_figure``), and write it as pdf and png,
    atomically, with provenance metadata. ``scale`` comes from the rule, never from a path."""
    title_figure(fig, stem, scale, tiny_slice)
    meta = {"figure": stem, "scale": scale, "slice": tiny_slice, "config_hash": config_hash,
            **provenance()}
    # No CreationDate: the same results give byte-identical files (figures/all compares sha256).
    pdf_meta = {"Title": stem, "Subject": caption, "Keywords": json.dumps(meta, sort_keys=True),
                "Creator": "trainlens", "CreationDate": None}
    png_meta = {"Title": stem, "Description": caption, **{f"trainlens:{k}": str(v)
                                                           for k, v in meta.items()}}
    atomic_write(pdf_path, lambda tmp: fig.savefig(tmp, format="pdf", metadata=pdf_meta))
    atomic_write(png_path, lambda tmp: fig.savefig(tmp, format="png", metadata=png_meta))
    plt.close(fig)
