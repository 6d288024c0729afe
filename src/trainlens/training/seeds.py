"""The run's random streams now live in the leaf :mod:`trainlens.seeds`, which the member builder
(:mod:`trainlens.members`) shares with training. This name stays for the tests that import it."""

from trainlens.seeds import STREAM_NAMES, RunStreams

__all__ = ["STREAM_NAMES", "RunStreams"]
