"""The atlas's REPORT.md (issue 29): a suite study's findings, never claims. What ran, per setting
the measures ranked as predictors of the generalization gap (|ρ| with bootstrap 95% intervals),
the strongest and weakest agreements between measures, the pairs of two papers' measures that
disagree in sign, and the figures. Numbers come from analysis/atlas/stats.py; no threshold, no
PASS/FAIL. ``trainlens atlas-report`` calls ``write_atlas_report``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.atlas import figures, stats, table, words
from trainlens.io import atomic_write

HEADER = (
    "This is a **suite study**, not a paper: every measure of the four papers (loukas2021, "
    "dherin2022, fort2019, nakazato2024) computed on the same checkpoints of one family of "
    "networks, and compared. It reports **findings**: no claim, no PASS/FAIL, no threshold. "
    "Spearman's ρ is taken across the runs of a setting at each run's final checkpoint, with a "
    "percentile bootstrap 95% interval over runs ({b} resamples of the runs with replacement, "
    "seed {seed}); a pair with fewer than {min_runs} runs where both are defined, or a constant "
    "column, is *undefined*. Sign convention: each measure is read as its own paper reads it: "
    "λ, τ, V, d, GC, the NTK diagonal and PR_W grow with complexity, fort2019's stiffness Δ and "
    "ξ grow with smoothness; two measures agree when ρ has the sign those readings predict "
    "(ρ·o_a·o_b > 0); the strongest agreements are the largest ρ·o_a·o_b, the weakest the "
    "smallest. How to read it: analysis/atlas/notes.md.")


def _ci(row) -> str:
    return stats.rho_text(row.rho, row.low, row.high)


def _knobs(runs: pd.DataFrame) -> str:
    """The knobs a setting's runs vary, with their values, e.g. "learning rate (0.01, 0.1)"."""
    values = runs.assign(knob_value=table.knob_values(runs))
    parts = []
    for varied, rows in values[values["varied"] != "base"].groupby("varied", sort=False):
        shown = ", ".join(f"{v:g}" for v in sorted(rows["knob_value"].dropna().unique()))
        parts.append(f"{words.knob(varied)} (`{varied}`: {shown})")
    return "; ".join(parts) or "none"


def what_ran(runs: pd.DataFrame) -> list[str]:
    """The settings, their knobs, seeds, ok runs per setting and the excluded runs."""
    lines = ["## What ran", "", "| setting | knobs varied from the base point (values) | seeds | "
             "ok runs | excluded runs |", "|---|---|---|---|---|"]
    excluded = []
    for setting in words.setting_order(runs["experiment"]):
        rows = runs[runs["experiment"] == setting]
        bad = rows[rows["status"] != "ok"]
        seeds = ", ".join(str(s) for s in sorted(rows["seed"].unique()))
        lines.append(f"| {words.setting(setting)} (`{setting}`) | {_knobs(rows)} | {seeds} | "
                     f"{int((rows['status'] == 'ok').sum())} | {len(bad)} |")
        for run in bad.itertuples():
            step = getattr(run, "diverged_step", np.nan)
            at = f" at step {step:g}" if isinstance(step, float) and np.isfinite(step) else ""
            excluded.append(f"- `{run.run_id}` ({setting}, {words.knob(run.varied)}, seed "
                            f"{run.seed}): {run.status}{at}")
    lines += ["", "Excluded from the atlas (status not ok):" if excluded else
              "No run was excluded (every run has status ok).", *excluded, ""]
    return lines


def _ranking_table(ranked: pd.DataFrame) -> list[str]:
    lines = [f"| rank | measure | paper | ρ with {words.measure_text(ranked['outcome'].iloc[0])} "
             "[95% CI] | runs |", "|---|---|---|---|---|"]
    for row in ranked.itertuples():
        rank = "–" if np.isnan(row.rank) else f"{row.rank:.0f}"
        lines.append(f"| {rank} | {words.measure_text(row.measure)} (`{row.measure}`) | "
                     f"{stats.PAPERS.get(row.measure, '')} | {_ci(row)} | {row.n} |")
    return lines


def predictors(corr: pd.DataFrame, settings: list[str]) -> list[str]:
    """Per setting, the measures ranked by |ρ| with the gap, and with the test error where the
    setting has one."""
    lines = ["## Which measure best predicts the generalization gap", "",
             "Measures ranked by |ρ| with the generalization gap (test loss − train loss) at the "
             "final checkpoint, largest first; undefined last.", ""]
    for outcome in ("gen_gap", "test_error"):
        ranked = stats.rank_predictors(corr, outcome)
        for setting in settings:
            rows = ranked[ranked["setting"] == setting]
            if rows.empty:
                continue
            lines += [f"### {words.setting(setting)}: {words.measure_text(outcome)}", "",
                      *_ranking_table(rows), ""]
    return lines


def _pair(row) -> str:
    return (f"{words.measure_text(row.a)} (`{row.a}`, {stats.PAPERS[row.a]}) – "
            f"{words.measure_text(row.b)} (`{row.b}`, {stats.PAPERS[row.b]}): ρ = {_ci(row)}, "
            f"{row.n} runs")


def agreements(corr: pd.DataFrame, settings: list[str], k: int = 3) -> list[str]:
    """Per setting, the ``k`` strongest and ``k`` weakest agreements between measures."""
    lines = ["## Agreements between measures", ""]
    found = stats.strongest_weakest(corr, k)
    for setting in settings:
        lines += [f"### {words.setting(setting)}", ""]
        if setting not in found:
            lines += ["No defined pair of measures.", ""]
            continue
        strong, weak = found[setting]
        lines += [f"Strongest {k} (largest ρ·o_a·o_b):", "",
                  *(f"{i}. {_pair(r)}" for i, r in enumerate(strong.itertuples(), 1)), "",
                  f"Weakest {k} (smallest ρ·o_a·o_b):", "",
                  *(f"{i}. {_pair(r)}" for i, r in enumerate(weak.itertuples(), 1)), ""]
    return lines


def disagreements(corr: pd.DataFrame) -> list[str]:
    """The pairs of two papers' measures that disagree in sign (stats.sign_disagreements)."""
    found = stats.sign_disagreements(corr)
    lines = ["## Where two papers' measures disagree in sign", "",
             "Pairs of measures from different papers whose ρ has opposite signs in two settings, "
             "or whose 95% interval excludes 0 on the side opposite to the sign both papers' "
             "readings predict (ρ > 0 for two complexities, ρ < 0 for a complexity and one of "
             "fort2019's smoothness measures).", ""]
    if found.empty:
        return lines + ["None found.", ""]
    lines += ["| measures | papers | disagreement | ρ [95% CI] per setting |", "|---|---|---|---|"]
    for row in found.itertuples():
        lines.append(f"| {words.measure_text(row.a)} – {words.measure_text(row.b)} | "
                     f"{row.paper_a} – {row.paper_b} | {row.kind} | {row.detail} |")
    return lines + [""]


def figures_section(pngs: Mapping[str, str | Path], out: Path) -> list[str]:
    """Every registered figure with its caption and a relative link to its PNG."""
    lines = ["## Figures", ""]
    for stem, spec in figures.figures.figures.items():
        lines += [f"### {spec.heading}", "", spec.full_caption, ""]
        if stem in pngs:
            link = os.path.relpath(Path(pngs[stem]), out.parent)
            lines += [f"![{stem}]({link})", ""]
        else:
            lines += ["(not built)", ""]
    return lines


def report_text(runs: pd.DataFrame, atlas: pd.DataFrame, corr: pd.DataFrame, scale: str,
                pngs: Mapping[str, str | Path], out: Path) -> str:
    """REPORT.md's text (``write_atlas_report`` writes it) from the runs, the atlas table and
    its correlations (``stats.correlations``)."""
    settings = words.setting_order(atlas["setting"])
    lines = [f"# atlas: the complexity atlas (suite study) · {scale} scale", "",
             HEADER.format(b=stats.B, seed=stats.SEED, min_runs=stats.MIN_RUNS), "",
             *what_ran(runs), *predictors(corr, settings), *agreements(corr, settings),
             *disagreements(corr), *figures_section(pngs, out)]
    return "\n".join(lines).rstrip() + "\n"


def write_atlas_report(runs: pd.DataFrame, metrics: pd.DataFrame, scale: str,
                       pngs: Iterable[str | Path] | Mapping[str, str | Path],
                       out: str | Path, correlations_out: str | Path | None = None) -> Path:
    """Write the atlas's REPORT.md to ``out`` (atomically); ``pngs`` are the figure PNGs (paths,
    or stem -> path), linked relative to ``out``'s folder. ``correlations_out``: also every
    pair's ρ, interval and n per setting as a TSV (what REPLICATION.md's atlas section reads)."""
    out = Path(out)
    if not isinstance(pngs, Mapping):
        pngs = {Path(p).stem: p for p in pngs}
    atlas = table.atlas_table(runs, metrics)
    corr = stats.correlations(atlas)
    if correlations_out is not None:
        atomic_write(correlations_out,
                     lambda tmp: corr.to_csv(tmp, sep="\t", index=False, float_format="%.6g"))
    text = report_text(runs, atlas, corr, scale, pngs, out)
    atomic_write(out, lambda tmp: Path(tmp).write_text(text))
    return out
