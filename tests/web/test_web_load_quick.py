"""`bench/web_load.py --quick` (the sign-in pressure run, docs/reliability.md#sign-in-load)
still runs end to end: a real `ledger serve --trusted-proxy 127.0.0.1` on SQLite, readers
alone and beside four clients of wrong passwords. The figures themselves are the bench's
to judge on a quiet machine; here, that every reader was answered 200 and every wrong
password 401 (each forwarded from an address of its own, so none was rate-limited)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_sign_in_pressure_bench_runs(tmp_path):
    out = tmp_path / "quick.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "web_load.py"), "--quick",
                           "--out", str(out)], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    f = json.loads(out.read_text())["figures"]
    for phase in ("readers_alone", "readers_beside"):
        assert f[phase]["requests"] > 0, phase
        assert set(f[phase]["statuses"]) == {"200"}, (phase, f[phase]["statuses"])
    assert f["wrong_passwords"]["requests"] > 0
    assert set(f["wrong_passwords"]["statuses"]) == {"401"}, f["wrong_passwords"]
    assert f["p95_ratio"] is not None and f["p95_ratio"] > 0
