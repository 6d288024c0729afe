"""Bad input ends with one line that names what is wrong and what is allowed (issue 28, item 4):
a bad ``--config`` value or key, a typo in ``experiments/<slug>.yaml``, a file that is not a
resolved config.json, a damaged parquet table. The workflow cases run ``snakemake -n`` as a
subprocess (it stops while loading, before any job)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from trainlens.cli import main
from trainlens.schema_errors import first_error
from trainlens.tables import read_table

REPO = Path(__file__).resolve().parents[2]
SCHEMA = yaml.safe_load((REPO / "experiments" / "schemas" / "config.schema.yaml").read_text())
PROPERTIES = SCHEMA["properties"]


def _snakemake(*args: str, cwd: Path = REPO) -> tuple[int, list[str]]:
    """Exit code and the non-empty output lines of a dry run."""
    result = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"),
                             "-n", "--cores", "1", *args], cwd=cwd, capture_output=True,
                            text=True, timeout=300)
    return result.returncode, [ln for ln in (result.stdout + result.stderr).splitlines() if ln]


def _our_line(lines: list[str]) -> str:
    """Our single line: everything else is Snakemake's one framing line about --config."""
    ours = [ln for ln in lines if ln.startswith("trainlens: ")]
    others = [ln for ln in lines if not ln.startswith("trainlens: ")]
    assert len(ours) == 1, lines
    assert all("is extended by additional config" in ln for ln in others), lines
    assert "Traceback" not in "\n".join(lines) and "Failed validating" not in "\n".join(lines)
    return ours[0]


@pytest.mark.parametrize(("setting", "key", "value", "allowed", "suggestion"), [
    ("scale=huge", "scale", "huge", PROPERTIES["scale"]["enum"], None),
    ("papers=[nope]", "papers", "nope", PROPERTIES["papers"]["items"]["enum"], None),
    ("device=tpu", "device", "tpu", PROPERTIES["device"]["examples"], "cpu"),
    ("scal=paper", "scal", "paper", sorted(PROPERTIES), "scale"),
])
def test_bad_config_value_is_one_line(setting, key, value, allowed, suggestion):
    code, lines = _snakemake("--config", setting)
    assert code != 0 and len(lines) <= 2
    line = _our_line(lines)
    assert f"'{key}'" in line and repr(value) in line
    assert all(str(a) in line for a in allowed)  # the schema's values, whatever they are
    if suggestion:
        assert line.endswith(f"did you mean '{suggestion}'?")


def test_typo_in_an_experiments_file_names_file_key_and_allowed_keys(tmp_path):
    for name in ("experiments", "analysis"):
        shutil.copytree(REPO / name, tmp_path / name)
    path = tmp_path / "experiments" / "loukas2021.yaml"
    document = yaml.safe_load(path.read_text())
    e1a = document["experiments"]["e1a"]
    e1a["seedz"] = e1a.pop("seeds")
    path.write_text(yaml.safe_dump(document))
    code, lines = _snakemake("-d", str(tmp_path), "--config", "papers=[loukas2021]",
                             cwd=tmp_path)
    line = _our_line(lines)
    assert code != 0
    assert "experiments/loukas2021.yaml" in line and "seedz" in line
    assert "allowed keys" in line and "did you mean 'seeds'?" in line


def test_allowed_values_come_from_the_schema():
    """A new enum value (issue 26 adds a scale) shows up in the message with no code change."""
    schema = {**SCHEMA, "properties": {**PROPERTIES, "scale": {**PROPERTIES["scale"],
                                                               "enum": ["smoke", "cpu", "paper"]}}}
    config = {"scale": "cpus", "papers": ["loukas2021"], "data_root": "data"}
    assert first_error(config, schema) == (
        "key 'scale': 'cpus' is not allowed; allowed: smoke, cpu, paper; did you mean 'cpu'?")
    assert first_error({**config, "scale": "cpu"}, schema) is None


@pytest.mark.parametrize(("text", "says"), [
    ('{"paper": "loukas2021"', "not JSON"),
    ("[1, 2]", "missing paper"),
    ('{"paper": "loukas2021", "members": []}', "missing experiment, group_id, model, train"),
])
def test_train_with_a_bad_config_json_names_the_file_and_what_it_expected(tmp_path, capsys,
                                                                          text, says):
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    argv = ["train", "--config", str(bad), "--runs", "r", "--metrics", "m", "--checkpoints", "c"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err and says in err
    assert "expected the JSON object that `trainlens resolve` writes" in err


def test_a_damaged_parquet_names_the_file_and_the_fix(tmp_path, capsys):
    good = tmp_path / "runs.parquet"
    pd.DataFrame({"a": range(100)}).to_parquet(good)
    damaged = tmp_path / "metrics.parquet"
    damaged.write_bytes(good.read_bytes()[:200])  # a write cut off half-way
    with pytest.raises(ValueError, match="delete it and rerun snakemake") as error:
        read_table(damaged, "metrics")
    assert str(damaged) in str(error.value)
    assert main(["collect", "--table", "metrics", "--out", str(tmp_path / "out.parquet"),
                 str(damaged)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(damaged) in err and "delete it" in err


def test_an_extra_table_of_an_unknown_name_is_one_line(tmp_path, capsys):
    """``--table NAME=PATH`` of plot and claims: the name must be a registered table."""
    runs, metrics = tmp_path / "runs.parquet", tmp_path / "metrics.parquet"
    argv = ["claims", "--claims-module", str(REPO / "analysis" / "loukas2021" / "claims.py"),
            "--runs", str(runs), "--metrics", str(metrics), "--scale", "smoke",
            "--out", str(tmp_path / "claims.tsv"), "--table", f"region={tmp_path / 'r.parquet'}"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--table region: not a table" in err and "regions" in err
