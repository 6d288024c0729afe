"""Shared figure style, the figure registry, and ``save_figure`` with provenance metadata.

Every figure is one function in ``analysis/<slug>/figures.py`` registered with ``@figures.figure``;
it reads tables only and returns a matplotlib Figure. The registry titles every drawn figure so
that a PNG cited on its own still says what it is: the paper, the figure, a short title, what it
regenerates (the paper's panel, "reconstruction" or "suite extension") and the scale, e.g.
"loukas2021 · figR01 · bias trajectory vs epoch (submission Fig. 1b) · smoke scale", placed above
every axes so that it never covers a tick label. ``save_figure`` writes pdf and png atomically
(Agg backend) and embeds the git commit, the config hash of the runs it shows, the scale and the
package versions: in the PNG as text chunks, in the PDF's Keywords field.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
    # a paper's extra tables by name (trainlens.tables.TABLES), e.g. loukas2021's "regions"
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)


@dataclass(frozen=True)
class FigureSpec:
    stem: str  # figNN_name, figRNN_name (reconstructed) or figXNN_name (extension)
    caption: str
    experiments: tuple[str, ...]
    draw: Callable[[FigureInputs], plt.Figure]  # the registered function, titled (FigureSet)
    paper: str = ""
    title: str = ""  # a few words: what the figure plots against what
    regenerates: str = ""  # the paper's panel ("submission Fig. 1b"); default from the stem

    @property
    def what_it_regenerates(self) -> str:
        """The paper's panel where the registration names it, else from the stem: figNN is the
        paper's Fig. NN, figRNN a reconstruction, figXNN a suite extension (design "Names")."""
        if self.regenerates:
            return self.regenerates
        number = re.match(r"fig(\d+)_", self.stem)
        return f"paper Fig. {int(number[1])}" if number else {
            "figR": "reconstruction", "figX": "suite extension"}.get(self.stem[:4], "")

    @property
    def heading(self) -> str:
        """Paper, figure id, title and what it regenerates: the visible title without the
        scale (``scale_title`` adds it)."""
        title = f"{self.title} ({self.what_it_regenerates})" if self.title else (
            self.what_it_regenerates)
        return " · ".join(part for part in (self.paper, self.stem.split("_")[0], title) if part)

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

    def figure(self, stem: str, caption: str, experiments: tuple[str, ...], title: str = "",
               regenerates: str = ""):
        """Register a draw function under ``stem``; ``title`` (a few words) and ``regenerates``
        (the paper's panel) go into the figure's visible title."""
        def register(draw: Callable[[FigureInputs], plt.Figure]):
            if stem in self.figures:
                raise ValueError(f"{self.paper}: figure {stem} registered twice")
            heading = FigureSpec(stem, caption, experiments, draw, self.paper, title,
                                 regenerates).heading

            def titled(inputs: FigureInputs) -> plt.Figure:
                fig = draw(inputs)
                # a figure's own suptitle (a subtitle of the whole figure) becomes a second line
                own = fig.get_suptitle()
                fig.set_label(heading + (f"\n{own}" if own else ""))
                title_figure(fig, scale_title(fig.get_label(), inputs.scale))
                return fig

            self.figures[stem] = FigureSpec(stem, caption, experiments, titled, self.paper,
                                            title, regenerates)
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


def scale_title(heading: str, scale: str, tiny_slice: bool = False) -> str:
    """The visible title of every figure: its heading (``FigureSpec.heading``: paper, figure,
    title, what it regenerates) and the scale its tables come from, so that a figure never passes
    for another scale's (a tiny slice says so too). The scale ends the first line."""
    first, _, rest = heading.partition("\n")
    first += f" · {scale} scale" + (" · TINY SLICE (replicates nothing)" if tiny_slice else "")
    return first + (f"\n{rest}" if rest else "")


TITLE_SIZE = 9  # points


def _wrap(line: str, width: int) -> list[str]:
    """Wrap a title line between words, never inside a short " · " part ("smoke scale",
    "figR01"): their spaces are held by no-break spaces while wrapping."""
    parts = [part.replace(" ", "\u00a0") if len(part) <= 24 else part
             for part in line.split(" · ")]
    return [wrapped.replace("\u00a0", " ")
            for wrapped in textwrap.wrap(" · ".join(parts), width, break_long_words=False)]


def title_figure(fig: plt.Figure, text: str) -> None:
    """Put ``text`` as the figure's title above everything drawn (axes, their titles and tick
    labels), left-aligned and wrapped to the figure's width: the layout (tight or constrained)
    is run first, so the title can never cover an axes; the saved file's tight bounding box
    grows to hold it."""
    width = max(40, int(fig.get_figwidth() * 72 / (0.55 * TITLE_SIZE)))  # characters per line
    lines = [wrapped for line in text.split("\n") for wrapped in _wrap(line, width)]
    title = fig.suptitle("\n".join(lines), fontsize=TITLE_SIZE, x=0.01, y=1.0, ha="left",
                         va="bottom")
    # an explicit y: constrained layout neither moves it nor reserves room for it
    fig.draw_without_rendering()  # runs the layout engine, so the axes are where they end up
    renderer = fig.canvas.get_renderer()
    tops = [ax.get_tightbbox(renderer).y1 for ax in fig.axes if ax.get_visible()]
    tops += [t.get_window_extent(renderer).y1 for t in fig.texts
             if t is not title and t.get_text().strip()]
    tops += [legend.get_window_extent(renderer).y1 for legend in fig.legends]
    top = max(tops, default=fig.bbox.height) / fig.bbox.height  # figure fraction
    title.set_y(top + 4 / 72 / fig.get_figheight())  # 4 points clear of the highest artist


def scale_titled(fig: plt.Figure, stem: str, scale: str, tiny_slice: bool = False) -> str:
    """Make sure ``fig`` carries ``scale_title`` of its heading (set by the registry; the stem
    for a figure drawn outside it) and return that title: the build (``save_figure``) and the
    notebook API (``trainlens.notebook``) both title through here, so a redrawn figure reads as
    the saved one."""
    text = scale_title(fig.get_label() or stem, scale, tiny_slice)
    if fig.get_suptitle().split() != text.split():  # the registry titled it for another text
        title_figure(fig, text)
    return text


def draw_figure(spec: FigureSpec, runs: pd.DataFrame, metrics: pd.DataFrame, scale: str,
                tables: Mapping[str, pd.DataFrame] | None = None) -> plt.Figure:
    """Draw one registered figure from the paper's tables: the runs of its experiments and their
    metrics only, and the paper's extra ``tables`` by name, in the suite's style (``trainlens plot``
    and ``trainlens.notebook``)."""
    runs = runs[runs["experiment"].isin(spec.experiments)]
    use_style()
    return spec.draw(FigureInputs(runs, metrics[metrics["run_id"].isin(runs["run_id"])], scale,
                                  dict(tables or {})))


def save_figure(fig: plt.Figure, pdf_path: str | Path, png_path: str | Path, stem: str,
                caption: str, scale: str, config_hash: str, tiny_slice: bool = False) -> None:
    """Write ``fig`` as pdf and png, atomically, with provenance metadata, titled with
    ``scale_titled``. ``scale`` comes from the rule, never from a path."""
    text = scale_titled(fig, stem, scale, tiny_slice)
    meta = {"figure": stem, "scale": scale, "slice": tiny_slice, "config_hash": config_hash,
            **provenance()}
    # No CreationDate: the same results give byte-identical files (figures/all compares sha256).
    title = " ".join(text.split())  # the visible title, one line: what a PDF viewer shows
    pdf_meta = {"Title": title, "Subject": caption, "Keywords": json.dumps(meta, sort_keys=True),
                "Creator": "trainlens", "CreationDate": None}
    png_meta = {"Title": title, "Description": caption, **{f"trainlens:{k}": str(v)
                                                           for k, v in meta.items()}}
    atomic_write(pdf_path, lambda tmp: fig.savefig(tmp, format="pdf", metadata=pdf_meta))
    atomic_write(png_path, lambda tmp: fig.savefig(tmp, format="png", metadata=png_meta))
    plt.close(fig)
