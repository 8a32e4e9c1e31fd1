"""The whole test suite from a clean clone, as CI runs it (docs/performance.md#the-test-suite).

    .venv/bin/python bench/suite.py [--commit HEAD] [--write-doc]

Clones the commit into a fresh temporary folder (`git clone`, so nothing of this checkout's
venv, caches or databases is reused) and runs `CI=true bash .ci/run` there: a fresh virtual
environment, the apt and npm checks, PostgreSQL, then README's test command. Times the
whole run and the tests alone (the pytest summary line), counts passed, failed and skipped
tests, and records the load average before, during (sampled every 10 s) and after. The
baseline in the same run is the install alone: `.ci/run` up to its test command, which is
the part no test work can shorten.

Target (issue "speed, round two"): the whole run under 8 minutes on this 2-core machine,
every test run (0 skipped: under CI=true a missing PostgreSQL fails rather than skips).
Writes bench/results/suite.json; `--write-doc` rewrites the `bench:suite` section of
docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from doc_section import write_section  # bench/, on the path as the script's folder

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "suite.json"
DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- bench:suite:start -->", "<!-- bench:suite:end -->"
TARGET_S = 8 * 60
SUMMARY = re.compile(r"^=*\s*(?P<counts>.*?) in (?P<seconds>[\d.]+)s(?: \(.*\))?\s*=*$")


def _commit(ref: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", ref],
                          check=True, capture_output=True, text=True).stdout.strip()


def _counts(text: str) -> dict[str, int]:
    out = {}
    for part in text.split(","):
        number, _, word = part.strip().partition(" ")
        if number.isdigit():
            out[word.strip()] = int(number)
    return out


class Loads(threading.Thread):
    """The one-minute load average every `every` seconds until stopped."""

    def __init__(self, every: float = 10.0) -> None:
        super().__init__(daemon=True)
        self.every, self.samples, self._stop_at = every, [], threading.Event()

    def run(self) -> None:
        while not self._stop_at.wait(self.every):
            self.samples.append(round(os.getloadavg()[0], 2))

    def stop(self) -> list[float]:
        self._stop_at.set()
        self.join()
        return self.samples


def run_suite(commit: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="ledger-suite-") as tmp:
        # Readable by every user, as a checkout usually is: a test runs `ledger` as
        # another user (tests/cli/test_read_commands.py), and mkdtemp's folder is 0700.
        os.chmod(tmp, 0o755)
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        subprocess.run(["git", "-C", str(clone), "checkout", "-q", commit], check=True)
        env = {**os.environ, "CI": "true"}
        env.pop("VIRTUAL_ENV", None)
        load_start = os.getloadavg()
        loads = Loads()
        loads.start()
        started = time.perf_counter()
        tests_started = None
        lines: list[str] = []
        with subprocess.Popen(["bash", ".ci/run"], cwd=clone, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line.rstrip("\n"))
                if line.startswith("== tests"):
                    tests_started = time.perf_counter()
            rc = proc.wait()
        took = time.perf_counter() - started
        samples = loads.stop()
    summary = next((m for m in map(SUMMARY.match, reversed(lines)) if m), None)
    if rc != 0 or summary is None or tests_started is None:
        tail = "\n".join(lines[-30:])
        raise SystemExit(f".ci/run failed (exit {rc}):\n{tail}")
    counts = _counts(summary["counts"])
    return {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": commit, "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "total_s": round(took, 1), "install_s": round(tests_started - started, 1),
        "tests_s": round(took - (tests_started - started), 1),
        "pytest_s": float(summary["seconds"]), "counts": counts,
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_during": samples,
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "target_s": TARGET_S,
    }


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {round(seconds % 60):02d} s"


def section(r: dict) -> str:
    c = r["counts"]
    during = r["load_average_during"] or [r["load_average_start"][0]]
    if c.get("failed") or c.get("skipped"):
        verdict = "**not met**: every test must run and pass"
    elif r["total_s"] < r["target_s"]:
        verdict = "met"
    else:
        verdict = f"**missed** by {_minutes(r['total_s'] - r['target_s'])}"
    return "\n".join([
        START,
        "<!-- Written by bench/suite.py --write-doc; edits between these markers are "
        "overwritten. -->",
        "",
        f"Run {r['when']} (UTC), commit {r['commit']}, `CI=true bash .ci/run` in a fresh "
        f"clone: {r['machine']['cpus']} CPUs, Python {r['machine']['python']}. Load average "
        f"{r['load_average_start'][0]:.1f} before, {min(during):.1f}-{max(during):.1f} "
        f"during (every 10 s), {r['load_average_end'][0]:.1f} after.",
        "",
        "| part | wall time |",
        "|---|---:|",
        f"| install: fresh venv, apt and npm checks, PostgreSQL (the baseline: no tests) "
        f"| {_minutes(r['install_s'])} |",
        f"| README's test command | {_minutes(r['tests_s'])} (pytest's own count: "
        f"{r['pytest_s']:.0f} s) |",
        f"| **the whole `.ci/run`** | **{_minutes(r['total_s'])}** |",
        "",
        f"Tests: {c.get('passed', 0):,} passed, {c.get('skipped', 0)} skipped, "
        f"{c.get('failed', 0)} failed. Target: under {_minutes(r['target_s'])} with every test "
        f"run: {verdict}. The tests took {r['tests_s'] / max(r['install_s'], 1):.1f}x the "
        "install.",
        "",
        END,
    ])


def write_doc(r: dict) -> None:
    write_section(DOC, "suite", section(r))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", default="HEAD")
    parser.add_argument("--write-doc", action="store_true")
    args = parser.parse_args()
    result = run_suite(_commit(args.commit))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(section(result))
    if args.write_doc:
        write_doc(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
