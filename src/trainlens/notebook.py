"""The notebook API: one paper's tables of one build as pandas DataFrames, and its figures redrawn
from them (README "Notebook API").

>>> import trainlens
>>> r = trainlens.results("loukas2021", scale="smoke")      # doctest: +SKIP
>>> r.claims[["claim_id", "passed", "value"]]               # doctest: +SKIP
>>> r.metrics.query("metric == 'loss' and data_frequency == 0.25")   # doctest: +SKIP
>>> fig = r.figure("figR01_mlp_trajectory")                 # doctest: +SKIP

It reads the files the workflow writes (docs/design.md "Tables"), under the repository that holds
the current folder (or ``root``): ``results/<scale>/<paper>/tables/{runs,metrics,regions}.parquet``
and ``results/<scale>/<paper>/claims.tsv``. Nothing is built or written; a missing table names
itself and the snakemake command that builds it. Like ``trainlens list`` it imports neither torch
nor the analysis modules until a figure is asked for.
"""

from __future__ import annotations

import sys
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from trainlens.experiments.scales import SCALES
from trainlens.experiments.typed import ConfigError
from trainlens.listing import declared_figures, find_root
from trainlens.tables import read_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# where each table lives under results/<scale folder>/<paper>/ (rules/tables.smk, figures.smk)
TABLE_FILES = {"runs": "tables/runs.parquet", "metrics": "tables/metrics.parquet",
               "regions": "tables/regions.parquet", "claims": "claims.tsv"}
REQUIRED = ("runs", "metrics", "claims")  # regions: loukas2021 E2 only, optional here


def papers(root: Path) -> list[str]:
    """The papers of the workflow at ``root``: an ``experiments/<slug>.yaml`` with its
    ``analysis/<slug>/figures.py``."""
    return sorted(p.stem for p in (root / "experiments").glob("*.yaml")
                  if (root / "analysis" / p.stem / "figures.py").is_file())


def build_command(paper: str, scale: str, tiny_slice: bool = False) -> str:
    """The snakemake command that builds every table and figure of ``paper`` at ``scale``
    (its REPORT.md target: rules/figures.smk write_report)."""
    folder = scale + ("-slice" if tiny_slice else "")
    config = f"scale={scale}" + (" slice=True" if tiny_slice else "")
    return f"snakemake --cores 2 figures/{folder}/{paper}/REPORT.md --config {config}"


class Results:
    """The tables of one paper at one scale, read on first use (pandas DataFrames).

    ``runs``     one row per run: identity, status and the run's config (``data_*``, ``model_*``,
                 ``train_*`` columns, e.g. ``data_frequency``, ``train_lr``).
    ``metrics``  the long metrics table (run_id, step, epoch, split, metric, value) with every
                 runs column joined on by ``run_id``, so that it filters by config directly.
    ``claims``   claims.tsv: one row per claim of the protocol, its statistic and verdict (an
                 empty ``passed`` cell: not evaluated at this scale, see ``reason``).
    ``regions``  the latent-grid table (loukas2021 E2), or None where the build has none.

    >>> r = Results(Path("."), "nakazato2024", "smoke")     # doctest: +SKIP
    >>> r.metrics[r.metrics["train_lr"] == 0.1]             # doctest: +SKIP
    """

    def __init__(self, root: Path, paper: str, scale: str, tiny_slice: bool = False) -> None:
        self.root, self.paper, self.scale, self.tiny_slice = root, paper, scale, tiny_slice
        self.folder = root / "results" / (scale + ("-slice" if tiny_slice else "")) / paper
        for table in REQUIRED:
            self._path(table)  # fail now, in one line, rather than on first use

    def __repr__(self) -> str:
        return (f"<trainlens results {self.paper} at {self.scale} scale"
                f"{' (tiny slice)' if self.tiny_slice else ''} from {self.folder}>")

    def _path(self, table: str) -> Path:
        path = self.folder / TABLE_FILES[table]
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found; build it with: "
                                    f"{build_command(self.paper, self.scale, self.tiny_slice)}")
        return path

    @cached_property
    def runs(self) -> pd.DataFrame:
        return read_table(self._path("runs"), "runs")

    @cached_property
    def metrics(self) -> pd.DataFrame:
        """Metrics rows with their run's columns joined on (``run_id``; each row keeps its own
        columns where a name is in both tables)."""
        metrics = self._metrics
        config = self.runs[[c for c in self.runs.columns
                            if c == "run_id" or c not in metrics.columns]]
        return metrics.merge(config, on="run_id", how="left", validate="many_to_one")

    @cached_property
    def _metrics(self) -> pd.DataFrame:
        """The metrics table as written (what the figure functions read)."""
        return read_table(self._path("metrics"), "metrics")

    @cached_property
    def claims(self) -> pd.DataFrame:
        return read_table(self._path("claims"), "claims")

    @cached_property
    def regions(self) -> pd.DataFrame | None:
        path = self.folder / TABLE_FILES["regions"]
        return read_table(path, "regions") if path.is_file() else None

    @property
    def figures(self) -> list[str]:
        """The figure stems that ``analysis/<paper>/figures.py`` registers."""
        return declared_figures(self.root, self.paper)

    def figure(self, stem: str) -> Figure:
        """Redraw figure ``stem`` from these tables with the paper's registered figure function
        (the one ``trainlens plot`` calls), titled with its stem and scale like the saved file.
        Nothing is written; the figure is closed in pyplot, so a notebook shows it once, as the
        returned value (``fig.savefig(...)`` still works).

        >>> fig = trainlens.results("loukas2021").figure("figR01_mlp_trajectory")  # doctest: +SKIP
        """
        from trainlens.analysis_modules import load_module

        plotting = _plotting()
        figure_set = load_module(self.root / "analysis" / self.paper / "figures.py").figures
        if stem not in figure_set.figures:
            raise ConfigError(f"{self.paper}: figure {stem!r} unknown; known: "
                              f"{', '.join(sorted(figure_set.figures))}")
        spec = figure_set.figures[stem]
        with plotting.plt.rc_context():  # the suite's style for this figure, not the session
            extra = {} if self.regions is None else {"regions": self.regions}
            fig = plotting.draw_figure(spec, self.runs, self._metrics, self.scale, extra)
            plotting.scale_titled(fig, stem, self.scale, self.tiny_slice)
        plotting.plt.close(fig)
        return fig


def _plotting():
    """``trainlens.plotting``, without leaving pyplot on its Agg backend when the session had
    chosen another (a notebook's inline backend) before."""
    import matplotlib

    backend = matplotlib.get_backend() if "matplotlib.pyplot" in sys.modules else None
    from trainlens import plotting

    if backend is not None and matplotlib.get_backend() != backend:
        matplotlib.use(backend)
    return plotting


def results(paper: str, scale: str = "smoke", root: str | Path | None = None,
            tiny_slice: bool = False) -> Results:
    """The tables of ``paper`` from the last build at ``scale`` (``tiny_slice``: the
    ``<scale>-slice`` build), in the repository that holds the current folder or at ``root``.

    >>> import trainlens
    >>> r = trainlens.results("loukas2021", scale="smoke")            # doctest: +SKIP
    >>> r.claims.loc[r.claims["passed"] == "FAIL", ["claim_id", "reason"]]   # doctest: +SKIP
    >>> r.metrics.query("metric == 'loss' and data_frequency == 0.25")   # doctest: +SKIP
    >>> r.figure("figR01_mlp_trajectory")                             # doctest: +SKIP
    """
    if scale not in SCALES:
        raise ConfigError(f"scale {scale!r} unknown; allowed: {', '.join(SCALES)}")
    try:
        base = find_root(root if root is not None else Path.cwd())
    except ConfigError:
        where = root if root is not None else Path.cwd()
        raise ConfigError(f"{where} is not inside a trainlens repository (no Snakefile and "
                          "experiments/config.yaml above it); pass root=") from None
    known = papers(base)
    if paper not in known:
        raise ConfigError(f"paper {paper!r} unknown; allowed: {', '.join(known)}")
    return Results(base, paper, scale, tiny_slice)
