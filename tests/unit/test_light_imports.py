"""The figure, claim, report, collect and manifest commands never import torch: a build runs
dozens of these jobs, and importing torch costs each of them seconds. Every module of analysis/
(the papers' figures, claims and table statistics) and the generic statistics of trainlens.stats
import without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

LIGHT = """
import sys
from pathlib import Path
from trainlens.cli import load_module
import trainlens.claims, trainlens.plotting, trainlens.report, trainlens.tables
import trainlens.experiments.loading, trainlens.experiments.slicing
import trainlens.stats.critical_length, trainlens.stats.curves, trainlens.stats.rank
for module in sorted(Path("analysis").glob("*/*.py")):
    load_module(module)
{extra}
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision"))
print(" ".join(heavy[:5]))
"""


def _heavy_modules(extra: str = "") -> str:
    """The torch modules loaded after the light imports (and ``extra``), as printed."""
    result = subprocess.run([sys.executable, "-c", LIGHT.format(extra=extra)], cwd=REPO,
                            capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_light_commands_do_not_import_torch() -> None:
    # figures, claims and statistics per paper
    assert len(list((REPO / "analysis").glob("*/stats.py"))) >= 5
    assert len(list((REPO / "analysis").glob("*/*.py"))) >= 12
    heavy = _heavy_modules()
    assert heavy == "", f"a light command imports torch: {heavy}"


def test_the_check_sees_torch() -> None:
    """The check can fail: a probe module (torch) imported on the light path is caught."""
    assert "torch" in _heavy_modules("import trainlens.probes.stiffness")
