"""Two CPU processes under `accelerate launch` train the same schedule and write the same ledger as one."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ARGS = ["--arm", "baseline", "--steps", "2", "--prompts-per-step", "4", "--generations", "2",
        "--trait-fraction", "0.25", "--max-completion-length", "24", "--checkpoint-every", "2"]


@pytest.mark.slow
def test_two_process_ledger_matches_single_process(tmp_path):
    accelerate = Path(sys.executable).with_name("accelerate")
    assert accelerate.exists() or shutil.which("accelerate")
    one, two = tmp_path / "one", tmp_path / "two"
    r1 = subprocess.run([sys.executable, "-m", "benrl", "train", *ARGS, "--out", str(one)], capture_output=True, text=True)
    assert r1.returncode == 0, r1.stderr[-3000:]
    r2 = subprocess.run([str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                         "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "benrl", "train", *ARGS,
                         "--out", str(two)], capture_output=True, text=True)
    assert r2.returncode == 0, r2.stderr[-3000:]
    a, b = (json.loads((p / "ledger.json").read_text()) for p in (one, two))
    assert b["processes"] == 2 and a["processes"] == 1
    for k in ("steps", "prompts", "generations", "trait_fraction"):
        assert a[k] == b[k], k
    assert json.loads((one / "schedule.json").read_text()) == json.loads((two / "schedule.json").read_text())
