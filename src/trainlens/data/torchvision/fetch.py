"""``trainlens download``: fetch a dataset through torchvision unless its files verify in place,
then stamp it (``<root>/<name>/.verified``) with the decoded copy that jobs read."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from trainlens.data.torchvision.cache import _write_decoded
from trainlens.data.torchvision.sources import _source
from trainlens.data.torchvision.verify import _inside, _verify


def download(name: str, data_root: Path, checksums: Mapping[str, str] | None = None) -> Path:
    """Fetch ``name`` unless verified in place; return its stamp ``<root>/<name>/.verified``.

    torchvision downloads into a temporary folder inside the data root (same filesystem, so each
    ``os.replace`` is atomic and no partial file is seen at its final path). The old stamp goes
    first and the new one comes last, so a stamp only ever covers a complete, verified set.
    """
    import torchvision

    source = _source(name)
    root = Path(data_root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    stamp = root / name / ".verified"
    stamp.unlink(missing_ok=True)
    try:
        md5s = _verify(name, root, checksums)
    except (FileNotFoundError, ValueError) as missing:
        staging = Path(tempfile.mkdtemp(prefix=f".download-{name}-", dir=root))
        try:
            try:
                source.dataset_class()(root=str(staging), train=True, download=True)
            except (OSError, RuntimeError) as error:  # offline: urllib errors, torchvision's
                raise FileNotFoundError(f"downloading {name} failed ({error}). {missing}") \
                    from None
            md5s = _verify(name, staging, None)
            for rel in md5s:
                target = _inside(root, rel)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / rel, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    record = {"dataset": name, "files": md5s, "torchvision": torchvision.__version__,
              "verified_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "decoded": _write_decoded(name, root, checksums, md5s)}
    stamp.parent.mkdir(parents=True, exist_ok=True)
    tmp = stamp.with_name(f".verified.{os.getpid()}.tmp")  # per process: concurrent runs
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, stamp)
    return stamp
