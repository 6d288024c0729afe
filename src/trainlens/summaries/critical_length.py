"""ξ (fort2019's critical length) now lives in the torch-free leaf
:mod:`trainlens.stats.critical_length`, which the stiffness probe imports while it measures;
this name stays for the analysis and tests that import it from summaries."""

from trainlens.stats.critical_length import (
    CENSORING,
    CriticalLength,
    DistanceCurve,
    bin_by_distance,
    critical_length_crossing,
    critical_length_fit,
)

__all__ = ["CENSORING", "CriticalLength", "DistanceCurve", "bin_by_distance",
           "critical_length_crossing", "critical_length_fit"]
