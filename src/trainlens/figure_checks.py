"""What a figure must be to be cited on its own, checked on the drawn matplotlib Figure.

Every axes draws data (a line with a finite point, a collection with an offset or a filled path,
a patch, an image) or says on itself why it has none; reference lines and shaded spans (drawn in
axes coordinates) are not data. Axis labels, titles and legends are words, not table columns:
nothing in them matches snake_case outside mathtext (``$t_c$`` renders as t with subscript c).
Legends have no header rows (seaborn adds its hue and style column names as entries that draw
nothing). The title names the paper and the scale. Each check returns what is wrong, in words,
so a test can print every problem at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.artist import Artist
from matplotlib.collections import Collection
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

SNAKE_CASE = re.compile(r"[a-z]+_[a-z]+")
MATHTEXT = re.compile(r"\$[^$]*\$")


def _in_data_coordinates(artist: Artist, ax: plt.Axes, offsets: bool = False) -> bool:
    """Whether ``artist`` is placed by the data (not a blended axes transform like axhline's)."""
    transform = artist.get_offset_transform() if offsets else artist.get_transform()
    return transform == ax.transData or transform.contains_branch(ax.transData)


def _finite_rows(values) -> bool:
    """At least one row (a point) whose coordinates are all finite."""
    array = np.ma.filled(np.ma.asarray(values, dtype=float), np.nan)
    return array.size > 0 and bool(np.isfinite(array.reshape(len(array), -1)).all(axis=1).any())


def _collection_draws(collection: Collection, ax: plt.Axes) -> bool:
    if len(collection.get_offsets()) and _in_data_coordinates(collection, ax, offsets=True):
        if _finite_rows(collection.get_offsets()):
            return True
    if not _in_data_coordinates(collection, ax):
        return False
    values = collection.get_array()  # a heatmap's mesh: its colours are the data
    if values is not None and np.size(values):
        return bool(np.isfinite(np.ma.filled(np.ma.asarray(values, dtype=float), np.nan)).any())
    return any(_finite_rows(path.vertices) for path in collection.get_paths())


def draws_data(ax: plt.Axes) -> bool:
    """Whether ``ax`` shows any data: a line with a finite point, a scatter, a filled area or
    mesh, a bar, an image (reference lines and spans in axes coordinates do not count)."""
    if any(_in_data_coordinates(line, ax) and _finite_rows(line.get_xydata())
           for line in ax.lines if line.get_visible()):
        return True
    if any(_collection_draws(c, ax) for c in ax.collections if c.get_visible()):
        return True
    if any(_in_data_coordinates(p, ax) and _finite_rows(p.get_path().vertices)
           and np.isfinite(p.get_bbox().bounds).all() for p in ax.patches if p.get_visible()):
        return True
    return any(np.isfinite(np.ma.filled(np.ma.asarray(image.get_array(), dtype=float),
                                        np.nan)).any()
               for image in ax.images if image.get_visible())


def explains(ax: plt.Axes) -> bool:
    """Whether a text on ``ax`` (``ax.text`` or ``ax.annotate``, not its title) says something."""
    return any(text.get_visible() and text.get_text().strip() for text in ax.texts)


def _name(ax: plt.Axes, index: int) -> str:
    title = ax.get_title() or ax.get_title(loc="left") or ax.get_ylabel()
    return f"axes {index}" + (f" ({title!r})" if title else "")


def silent_empty_axes(fig: plt.Figure) -> list[str]:
    """The axes of ``fig`` that draw no data and carry no text saying why. A twin (the same
    position as an axes that draws, e.g. ``twinx``) counts as drawing."""
    drawing = {ax.get_position().bounds for ax in fig.axes if ax.get_visible() and draws_data(ax)}
    return [_name(ax, index) + " draws no data and says nothing"
            for index, ax in enumerate(fig.axes)
            if ax.get_visible() and ax.get_position().bounds not in drawing and not explains(ax)]


def _legends(fig: plt.Figure) -> list[Legend]:
    found = [ax.get_legend() for ax in fig.axes] + list(fig.legends)
    return [legend for legend in found if legend is not None and legend.get_visible()]


def label_texts(fig: plt.Figure) -> list[str]:
    """What a reader reads as labels: axis labels, axes titles, legend titles and entries."""
    texts = []
    for ax in fig.axes:
        if ax.get_visible():
            texts += [ax.get_xlabel(), ax.get_ylabel(),
                      *(ax.get_title(loc=loc) for loc in ("left", "center", "right"))]
    for legend in _legends(fig):
        texts += [legend.get_title().get_text(), *(t.get_text() for t in legend.get_texts())]
    return [text for text in texts if text.strip()]


def snake_case_labels(fig: plt.Figure, allowed: Iterable[str] = ()) -> list[str]:
    """Labels of ``fig`` that contain a snake_case word outside mathtext, unless the word is in
    ``allowed`` (an allow-list whose reasons live where it is written)."""
    allowed = set(allowed)
    bad = []
    for text in label_texts(fig):
        words = set(SNAKE_CASE.findall(MATHTEXT.sub(" ", text))) - allowed
        if words:
            bad.append(f"{text!r} has snake_case {sorted(words)}")
    return bad


def _draws_nothing(handle: Artist) -> bool:
    """A legend handle that shows no mark: seaborn's header rows (a Line2D with no marker and
    no line width)."""
    if not handle.get_visible():
        return True
    if isinstance(handle, Line2D):
        no_marker = handle.get_marker() in ("", " ", "None", None) or handle.get_markersize() == 0
        no_line = handle.get_linestyle() in ("", " ", "None", "none") or handle.get_linewidth() == 0
        return no_marker and no_line
    if isinstance(handle, Patch):
        return handle.get_facecolor()[3] == 0 and (handle.get_linewidth() == 0
                                                   or handle.get_edgecolor()[3] == 0)
    return False


def legend_header_rows(fig: plt.Figure) -> list[str]:
    """Legend entries whose handle draws nothing: header rows, not data."""
    return [f"legend row {text.get_text()!r} shows no mark (a header row?)"
            for legend in _legends(fig)
            for handle, text in zip(legend.legend_handles, legend.get_texts())
            if handle is not None and _draws_nothing(handle)]


def title_problems(fig: plt.Figure, paper: str, scale: str) -> list[str]:
    """The figure's visible title must name the paper and the scale it was drawn at."""
    title = " ".join(fig.get_suptitle().split())  # as read, whatever the line breaks
    return [f"title {title!r} does not name {word!r}" for word in (paper, f"{scale} scale")
            if word not in title]


def figure_problems(fig: plt.Figure, paper: str, scale: str,
                    allowed: Iterable[str] = ()) -> list[str]:
    """Every check above, in one list (empty: the figure can be cited)."""
    return (silent_empty_axes(fig) + snake_case_labels(fig, allowed) + legend_header_rows(fig)
            + title_problems(fig, paper, scale))
