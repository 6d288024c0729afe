"""The loss registry now lives in the leaf :mod:`trainlens.losses`, shared by training and probes.

This name stays for the tests and benchmarks that import it from training.
"""

from trainlens.losses import LOSSES, Loss

__all__ = ["LOSSES", "Loss"]
