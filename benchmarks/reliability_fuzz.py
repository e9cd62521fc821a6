"""Long fuzz run of load_study: hypothesis mutations of seed DICOM/PNG/JPEG files, and random bytes.

    python benchmarks/reliability_fuzz.py [--per-format 3500] [--random 1000] [--timeout 10] [--jobs 2]
                                          [--formats dicom,png,jpeg,random] [--out DIR]

The seeds and mutation operators are tests/io/test_fuzz.py's (flip, truncate, insert, delete,
large length words). Each format runs in its own worker process with an address-space cap
(RLIMIT_AS: its size after start-up + 3 GB) and a hard per-input timeout (a faulthandler
watchdog ends a hung worker; the input it was on is kept). Anything but a specific
``StudyLoadError`` with a one-line printable message is a finding: another exception, a
catch-all or out-of-memory message, a loaded study with bad pixels, a folder-scan reason that
is not one printable line, a hang or a crash. Findings are saved under ``--out/findings``.
Prints the inputs tried, outcomes, slowest input and peak RSS per worker; exit 1 on findings.
"""

from __future__ import annotations

import argparse
import faulthandler
import hashlib
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FORMATS = ("dicom", "png", "jpeg", "random")
AS_HEADROOM = 3_000_000_000


# -- worker ----------------------------------------------------------------------------------


def _cap_address_space() -> int:
    """Limit this process's address space to its current size + 3 GB; returns the cap (0: none)."""
    try:
        import resource

        with open("/proc/self/status") as fh:
            vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize"))
    except (ImportError, OSError, StopIteration):
        return 0
    cap = vm + AS_HEADROOM
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    return cap


def _pattern(message: str) -> str:
    """A message with its numbers replaced, for counting kinds of refusal."""
    return re.sub(r"\d+", "N", message)[:90]


def worker(fmt: str, count: int, seed: int, out: Path, timeout: float, target_name: str) -> dict[str, Any]:
    """Run ``count`` generated inputs of ``fmt`` through the target; return the statistics."""
    for p in (REPO, REPO / "tests" / "io"):
        sys.path.insert(0, str(p))
    import numpy as np
    import test_fuzz as tf  # the io suite's seeds and mutation operators
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hyp_seed
    from hypothesis import strategies as st

    from xray_desktop.io import StudyLoadError, scan

    module, _, func = target_name.partition(":")
    target = getattr(importlib.import_module(module), func)
    seeds = tf._seeds(Path(tempfile.mkdtemp(prefix=f"seeds-{fmt}-", dir=out)))
    cap = _cap_address_space()
    current = out / f"current-{fmt}.bin"
    findings_dir = out / "findings"
    stats: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    slowest = [0.0]

    def finding(data: bytes, kind: str, detail: str) -> None:
        findings_dir.mkdir(exist_ok=True)
        name = f"{fmt}-{hashlib.sha256(data).hexdigest()[:12]}"
        (findings_dir / f"{name}.bin").write_bytes(data)
        (findings_dir / f"{name}.txt").write_text(f"{kind}: {detail}\n")
        stats["findings"] += 1

    def check(data: bytes) -> None:
        current.write_bytes(data)
        stats["inputs"] += 1
        faulthandler.dump_traceback_later(timeout, exit=True)
        t0 = time.perf_counter()
        try:
            study = target(current)
        except StudyLoadError as exc:
            msg = str(exc)
            stats["refused"] += 1
            kinds[_pattern(msg)] += 1
            if not msg or not msg.isprintable() or msg.startswith(("cannot decode file:", "not enough memory")):
                finding(data, "unspecific refusal", msg)
        except Exception as exc:  # noqa: BLE001 - the contract is StudyLoadError only
            finding(data, type(exc).__name__, str(exc)[:300])
        else:
            stats["loaded"] += 1
            px = getattr(study, "pixels", None)
            ok = px is not None and px.ndim == 2 and px.dtype == np.float32 and px.size > 0
            if not ok or not (0.0 <= float(px.min()) and float(px.max()) <= 1.0):
                finding(data, "bad study", repr(getattr(px, "shape", None)))
        try:  # the folder scan (CLI, GUI) classifies the file first and may give its own reason
            reasons = [item.skip_reason for item in scan([current])]
            if any(r and not r.isprintable() for r in reasons):
                finding(data, "scan reason not one printable line", repr(reasons))
        except Exception as exc:  # noqa: BLE001 - scan must never raise on a file's content
            finding(data, f"scan raised {type(exc).__name__}", str(exc)[:300])
        finally:
            faulthandler.cancel_dump_traceback_later()
        slowest[0] = max(slowest[0], time.perf_counter() - t0)

    config = settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate],
                      suppress_health_check=list(HealthCheck))
    if fmt == "random":

        @hyp_seed(seed)
        @config
        @given(prefix=tf._prefix, body=st.binary(max_size=8192))
        def run(prefix: bytes, body: bytes) -> None:
            check(prefix + body)

    else:
        pool = seeds[fmt]

        @hyp_seed(seed)
        @config
        @given(index=st.integers(0, 16), ops=st.lists(tf._op, min_size=1, max_size=8))
        def run(index: int, ops: list[tuple]) -> None:
            check(tf._mutate(pool[index % len(pool)], ops))

    t0 = time.perf_counter()
    run()
    import resource

    return {
        "format": fmt,
        "inputs": stats["inputs"],
        "loaded": stats["loaded"],
        "refused": stats["refused"],
        "findings": stats["findings"],
        "slowest_s": round(slowest[0], 3),
        "seconds": round(time.perf_counter() - t0, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "address_space_cap_mb": round(cap / 1e6),
        "top_refusals": kinds.most_common(8),
    }


# -- parent ----------------------------------------------------------------------------------


def run_all(formats: list[str], per_format: int, random_count: int, timeout: float, jobs: int, out: Path,
            target: str = "xray_desktop.io:load_study", seed: int = 20261127) -> list[dict[str, Any]]:
    """Run one worker per format (``jobs`` at a time); a dead worker becomes a hang/crash finding."""
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH")))))
    pending = list(formats)
    running: list[tuple[str, subprocess.Popen[str], Path]] = []
    results: list[dict[str, Any]] = []
    while pending or running:
        while pending and len(running) < jobs:
            fmt = pending.pop(0)
            n = random_count if fmt == "random" else per_format
            err = out / f"worker-{fmt}.stderr"
            cmd = [sys.executable, __file__, "--worker", fmt, "--count", str(n), "--seed", str(seed),
                   "--timeout", str(timeout), "--out", str(out), "--target", target]
            with err.open("w") as fh:
                proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=fh, text=True, env=env)
            running.append((fmt, proc, err))
        time.sleep(0.05)
        for item in list(running):
            fmt, proc, err = item
            if proc.poll() is None:
                continue
            running.remove(item)
            stdout = proc.stdout.read() if proc.stdout else ""
            lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
            if proc.returncode == 0 and lines:
                results.append(json.loads(lines[-1]))
                continue
            text = err.read_text(errors="replace")
            tail = text[-1500:]
            kind = "hang" if "Timeout (" in text else f"crash (exit {proc.returncode})"
            current = out / f"current-{fmt}.bin"
            (out / "findings").mkdir(exist_ok=True)
            if current.exists():
                shutil.copy(current, out / "findings" / f"{fmt}-{kind.split()[0]}.bin")
            (out / "findings" / f"{fmt}-{kind.split()[0]}.txt").write_text(f"{kind}\n{tail}")
            results.append({"format": fmt, "inputs": None, "findings": 1, "error": kind, "stderr_tail": tail})
    order = {f: i for i, f in enumerate(FORMATS)}
    return sorted(results, key=lambda r: order.get(r["format"], 99))


def report(results: list[dict[str, Any]], out: Path, started: float) -> int:
    """Print the table and totals; return the exit status."""
    print(f"{'format':8} {'inputs':>7} {'loaded':>7} {'refused':>8} {'findings':>8} {'slowest s':>9} "
          f"{'peak RSS MB':>11}")
    for r in results:
        if r.get("error"):
            print(f"{r['format']:8} worker died: {r['error']}")
            continue
        print(f"{r['format']:8} {r['inputs']:7d} {r['loaded']:7d} {r['refused']:8d} {r['findings']:8d} "
              f"{r['slowest_s']:9.2f} {r['peak_rss_mb']:11.0f}")
    total = sum(r["inputs"] or 0 for r in results)
    found = sum(r["findings"] for r in results)
    peak = max((r.get("peak_rss_mb", 0) for r in results), default=0)
    print(f"total: {total} inputs, {found} findings, peak worker RSS {peak:.0f} MB, "
          f"{time.monotonic() - started:.0f} s wall; address space capped at start-up size + 3 GB")
    for r in results:
        for pattern, n in r.get("top_refusals", [])[:4]:
            print(f"  {r['format']:7} {n:6d}  {pattern}")
    if found:
        print(f"findings saved under {out / 'findings'}")
    (out / "summary.json").write_text(json.dumps(results, indent=1))
    return 1 if found else 0


def main() -> int:
    """Parse arguments; run as the parent (default) or as one format's worker."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-format", type=int, default=3500, help="mutated inputs per DICOM/PNG/JPEG")
    parser.add_argument("--random", type=int, default=1000, help="random-bytes inputs")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--timeout", type=float, default=10.0, help="per-input hard timeout, seconds")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="work folder (default: a new temp folder)")
    parser.add_argument("--target", default="xray_desktop.io:load_study", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="xray-fuzz-"))
    if args.worker:
        print(json.dumps(worker(args.worker, args.count, args.seed, out, args.timeout, args.target)), flush=True)
        return 0
    started = time.monotonic()
    formats = [f for f in args.formats.split(",") if f]
    unknown = set(formats) - set(FORMATS)
    if unknown:
        parser.error(f"unknown formats {sorted(unknown)}")
    results = run_all(formats, args.per_format, args.random, args.timeout, args.jobs, out, args.target, args.seed)
    return report(results, out, started)


if __name__ == "__main__":
    sys.exit(main())
