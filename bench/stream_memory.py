"""Peak memory of reading a scenario file with ScenarioStream, for files of several sizes
(docs/architecture.md#limits): it should not grow with the file.

    .venv/bin/python bench/stream_memory.py [MIB ...]     # default: 3 30

Each file is `generate.scenario(n, holders=2000)` written with yaml.safe_dump (dates as
YYYY-MM-DD text), then read in a fresh process which reports its peak RSS (getrusage
ru_maxrss) before and after reading every event. Both steps are child processes: Linux
carries a parent's peak RSS over into a child it starts.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

BYTES_PER_EVENT = 96  # about, for generate.scenario's events in yaml.safe_dump's style

CHILD = """
import resource, sys, time
from pathlib import Path
from ledger.scenarios.schema import ScenarioStream
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
before, started = rss(), time.perf_counter()
with ScenarioStream(Path(sys.argv[1])) as scenario:
    events = scenario.check()
print(events, before, rss(), round(time.perf_counter() - started, 1))
"""


def _text(value: object) -> object:
    if isinstance(value, dict):
        return {k: _text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_text(v) for v in value]
    return value.isoformat() if isinstance(value, dt.date) else value


def write(path: Path, mib: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from generate import scenario

    data = _text(scenario(mib * 2**20 // BYTES_PER_EVENT, holders=2000))
    with path.open("w", encoding="utf-8") as out:
        yaml.dump(data, out, Dumper=yaml.CSafeDumper, sort_keys=False)


def main(sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for mib in sizes:
            path = Path(folder) / f"{mib}mib.yaml"
            subprocess.run([sys.executable, __file__, "--write", str(path), str(mib)],
                           check=True)
            done = subprocess.run([sys.executable, "-c", CHILD, str(path)], check=True,
                                  capture_output=True, text=True).stdout.split()
            events, before, peak, seconds = done
            print(f"{path.stat().st_size / 2**20:5.1f} MiB, {int(events):>7,} events: "
                  f"peak RSS {peak} MiB ({before} MiB before reading), {seconds} s")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        write(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        main([int(a) for a in sys.argv[1:]] or [3, 30])
