"""Claims: one function per claim of a paper's spec, checked against thresholds fixed in advance.

A claim function computes named statistics from the tables; it never decides the verdict. The
verdict comes from the claim's ``criteria`` for the current scale (statistic, operator, value,
gating), declared next to the function and copied from the spec. A claim that does not reproduce
is a FAIL with its statistic: a result, not a bug. Claims of the spec that are not built yet, or
not evaluated at this scale, are still listed, with an empty verdict and the reason.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from trainlens.provenance import git_commit

OPERATORS: dict[str, Callable[[object, object], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq,
}


@dataclass(frozen=True)
class Criterion:
    """``statistic op value``; a non-gating criterion is reported but does not gate the build."""

    statistic: str
    op: str
    value: float | bool
    gating: bool = True

    def holds(self, statistics: dict[str, float | bool]) -> bool:
        observed = statistics.get(self.statistic)
        if observed is None or (isinstance(observed, float) and math.isnan(observed)):
            return False  # a statistic that could not be computed cannot pass
        return bool(OPERATORS[self.op](observed, self.value))

    def text(self) -> str:
        return f"{self.statistic} {self.op} {self.value}" + ("" if self.gating else " (non-gating)")


@dataclass(frozen=True)
class ClaimInputs:
    """What claim functions read: the paper's tables, with diverged and failed runs removed."""

    runs: pd.DataFrame
    metrics: pd.DataFrame
    scale: str
    excluded: int = 0  # runs removed because they diverged or failed
    # a paper's extra tables by name (trainlens.tables.TABLES), e.g. loukas2021's "regions"
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    excluded_runs: pd.DataFrame | None = None  # the removed runs' rows, for claims that list them


@dataclass(frozen=True)
class Claim:
    """One claim of a paper's protocol (docs/protocols/<slug>.md §6) and how it is checked.

    ``paper_says`` holds the paper's own words or number for this claim, quoted or closely
    paraphrased with the place in the paper (e.g. 'Sec. 4.1: "…"' or 'Fig. 3: …'); where the paper
    states nothing quantitative, or the claim is a suite reconstruction, it says exactly that (e.g.
    "no number in the paper: reconstructed from Fig. 2 (docs/protocols/fort2019.md §6)"). It is one
    line without "|" (the generated REPLICATION.md shows it in a markdown table) and is never
    written to claims.tsv.
    """

    claim_id: str
    figure: str
    source: str
    statement: str
    statistic: str
    criteria: dict[str, list[Criterion]]  # scale -> criteria; a missing scale is not evaluated
    compute: Callable[[ClaimInputs], dict[str, float | bool]] | None = None
    not_built: str = ""  # reason, for claims of the spec this suite does not compute yet
    not_evaluated: dict[str, str] = field(default_factory=dict)  # scale -> reason
    paper_says: str = ""  # the paper's own words or number (class docstring)
    # scale -> the known cause of a FAIL at that scale, in words, printed beside the FAIL
    # (REPORT.md, claims.tsv ``known_cause``); a FAIL with no known cause is the result
    known_causes: dict[str, str] = field(default_factory=dict)


# The cpu scale is judged by the paper-scale criteria, never looser ones
# (trainlens.experiments.scales SCALE_LAYERS: cpu runs the paper protocol on what two CPU cores
# afford).
CRITERIA_SCALE = {"smoke": "smoke", "cpu": "paper", "paper": "paper"}


def at_every_scale(*criteria: Criterion) -> dict[str, list[Criterion]]:
    """The same criteria at smoke and at paper scale (and so at cpu, ``CRITERIA_SCALE``): a
    claim whose thresholds the protocol does not relax for plumbing-sized runs."""
    return {scale: list(criteria) for scale in ("smoke", "paper")}


class ClaimSet:
    """The claims of one paper, in spec order. Use ``@claims.claim(...)``, ``claims.pending`` and
    ``claims.not_run_at``."""

    def __init__(self, paper: str) -> None:
        self.paper = paper
        self.claims: dict[str, Claim] = {}
        self.not_run: dict[str, dict[str, str]] = {}  # scale -> claim id -> reason

    def not_run_at(self, scale: str, claim_ids: list[str], reason: str) -> None:
        """Claims whose experiments do not run at ``scale`` (at cpu scale: those that need CIFAR
        or a GPU): listed with the reason, never computed on the tables of another scale."""
        for claim_id in claim_ids:
            self.not_run.setdefault(scale, {})[claim_id] = reason

    def _add(self, claim: Claim) -> None:
        if claim.claim_id in self.claims:
            raise ValueError(f"{self.paper}: claim {claim.claim_id} registered twice")
        self.claims[claim.claim_id] = claim

    def claim(self, claim_id: str, figure: str, source: str, statement: str, statistic: str,
              criteria: dict[str, list[Criterion]], not_evaluated: dict[str, str] | None = None,
              *, paper_says: str, known_causes: dict[str, str] | None = None):
        """Register the decorated function as the claim's statistics; ``paper_says`` is the
        paper's own words or number for it (``Claim.paper_says``), required."""
        def register(compute: Callable[[ClaimInputs], dict[str, float | bool]]):
            self._add(Claim(claim_id, figure, source, statement, statistic, criteria, compute,
                            not_evaluated=not_evaluated or {}, paper_says=paper_says,
                            known_causes=known_causes or {}))
            return compute

        return register

    def pending(self, claim_id: str, figure: str, source: str, statement: str, statistic: str,
                reason: str, *, paper_says: str) -> None:
        """A claim of the spec that this version of the suite does not evaluate, and why;
        ``paper_says`` as for ``claim``."""
        self._add(Claim(claim_id, figure, source, statement, statistic, {}, None, reason,
                        paper_says=paper_says))


def claim_number(claim_id: str) -> int:
    """C12 -> 12: claims are listed in spec order, not string order."""
    return int(claim_id.lstrip("C"))


def _format(statistics: dict[str, float | bool]) -> str:
    def one(v: float | bool) -> str:
        return str(v) if isinstance(v, bool) else f"{v:.4g}"

    return "; ".join(f"{k}={one(v)}" for k, v in statistics.items())


def evaluate(claim: Claim, inputs: ClaimInputs, not_run: str = "") -> dict[str, object]:
    """One claims.tsv row: statistics, threshold text, PASS/FAIL (or empty) and the reason.
    ``not_run``: the claim's experiments do not run at this scale (``ClaimSet.not_run_at``)."""
    # a claim's own cpu criteria only where its paper-scale experiment does not run at cpu scale
    # (loukas2021 C9: E1c in place of the CIFAR E1b), with the protocol's thresholds
    # (tests/unit/test_cpu_scale.py checks that each is one of the claim's smoke or paper ones)
    criteria = claim.criteria.get(inputs.scale) or claim.criteria.get(
        CRITERIA_SCALE.get(inputs.scale, inputs.scale))
    row = {"claim_id": claim.claim_id, "figure": claim.figure, "source": claim.source,
           "statement": claim.statement, "statistic": claim.statistic, "value": "",
           "threshold": "", "scale": inputs.scale, "passed": "", "gating": "",
           "n_runs": int(len(inputs.runs)), "reason": "", "known_cause": ""}
    if claim.compute is None:
        row["reason"] = f"not built yet: {claim.not_built}"
        return row
    if not_run:
        row["reason"] = f"not evaluated at {inputs.scale} scale: {not_run}"
        return row
    statistics = claim.compute(inputs)
    row["value"] = _format(statistics)
    if not criteria:
        row["reason"] = claim.not_evaluated.get(inputs.scale, f"not evaluated at {inputs.scale}")
        return row
    failed = [c for c in criteria if not c.holds(statistics)]
    row["threshold"] = "; ".join(c.text() for c in criteria)
    row["passed"] = "FAIL" if failed else "PASS"
    # yes: the claim gates the build (stop_on_gating_fail) when one of its criteria at this scale
    # does; a FAIL stops it only through a gating criterion (stops_the_build)
    row["gating"] = "yes" if any(c.gating for c in criteria) else "no"
    row["known_cause"] = claim.known_causes.get(inputs.scale, "") if failed else ""
    reasons = [f"failed: {c.text()}" for c in failed]
    if inputs.excluded:
        reasons.append(f"{inputs.excluded} diverged/failed run(s) excluded")
    if claim.not_evaluated.get(inputs.scale):
        reasons.append(claim.not_evaluated[inputs.scale])
    row["reason"] = "; ".join(reasons)
    return row


def stops_the_build(row: dict[str, str] | pd.Series) -> bool:
    """Whether a claims.tsv row is a FAIL of a gating criterion: the claim gates and its reason
    names a failed criterion that is not marked non-gating (``Criterion.text``)."""
    failed = [part for part in str(row["reason"]).split("; ") if part.startswith("failed: ")]
    return row["gating"] == "yes" and any(not part.endswith("(non-gating)") for part in failed)


def run_claims(claims: ClaimSet, runs: pd.DataFrame, metrics: pd.DataFrame,
               scale: str, tables: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Evaluate every claim of ``claims`` on the ok runs; the claims table of docs/design.md."""
    ok = runs[runs["status"] == "ok"]
    inputs = ClaimInputs(ok, metrics[metrics["run_id"].isin(ok["run_id"])], scale,
                         excluded=int(len(runs) - len(ok)), tables=dict(tables or {}),
                         excluded_runs=runs[runs["status"] != "ok"])
    ordered = sorted(claims.claims.values(), key=lambda c: claim_number(c.claim_id))
    not_run = claims.not_run.get(scale, {})
    rows = [evaluate(claim, inputs, not_run.get(claim.claim_id, "")) for claim in ordered]
    table = pd.DataFrame(rows)
    table.insert(0, "paper", claims.paper)
    table["git_commit"] = git_commit()
    return table
