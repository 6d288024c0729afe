"""trainlens: regenerate the figures and claims of four papers on training dynamics and complexity.

The package holds HOW things are computed (data, models, training, probes, tables, claims, plots);
WHAT is run lives in ``experiments/*.yaml`` and WHERE files go is decided by the Snakemake rules.

In a notebook, ``trainlens.results(paper, scale=...)`` gives a build's tables as pandas and
redraws its figures (``trainlens.notebook``). It is imported on first use, so that
``import trainlens`` stays light (no pandas, no torch).

>>> import trainlens
>>> r = trainlens.results("loukas2021", scale="smoke")   # doctest: +SKIP
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "results"]


def __getattr__(name: str) -> Any:
    """``trainlens.results``, imported from ``trainlens.notebook`` when first asked for."""
    if name == "results":
        from trainlens.notebook import results

        return results
    raise AttributeError(f"module 'trainlens' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "results"])
