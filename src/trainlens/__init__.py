"""trainlens: regenerate the figures and claims of four papers on training dynamics and complexity.

The package holds HOW things are computed (data, models, training, probes, tables, claims, plots);
WHAT is run lives in ``experiments/*.yaml`` and WHERE files go is decided by the Snakemake rules.
"""

__version__ = "0.1.0"
