"""The log-spaced checkpoint schedule now lives in the leaf :mod:`trainlens.schedule`, which the
typed train configs of :mod:`trainlens.members` read. This name stays for the tests."""

from trainlens.schedule import log_spaced_steps

__all__ = ["log_spaced_steps"]
