"""Drive the real MainWindow over a folder of studies in a child process (load and crash runs).

As a script (the child; offscreen Qt, fake classifier, the app's own code paths)::

    python tests/reliability/gui_driver.py --folder F --db DB --report R.json [--confirm]
        [--cancel-folder F2 --cancel-after N] [--rss-at 500]

It opens ``F`` exactly as a drop does and, with ``--confirm``, confirms each study through
``MainWindow.confirm()`` as soon as its analysis is complete, printing ``confirmed <key>``
after each committed read. A 10 ms heartbeat timer measures GUI-thread stalls; RSS is
sampled after ``--rss-at`` confirmed studies and at the end; the report is JSON.

Imported (the parent side): :func:`make_dicom_folder`, :func:`run_child`, :func:`store_summary`.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
HEARTBEAT_MS = 10


# -- parent side -----------------------------------------------------------------------------


def make_dicom_folder(folder: Path, n: int, size: int = 128) -> Path:
    """``n`` small synthetic DICOM radiographs (distinct SOP Instance UIDs) written with pydicom."""
    sys.path.insert(0, str(REPO / "tests" / "io"))
    from io_helpers import build_dataset, chest_like, write

    folder.mkdir(parents=True, exist_ok=True)
    images = [chest_like(size, size, seed=s) for s in range(32)]
    for i in range(n):
        ds = build_dataset(images[i % len(images)], PatientID=f"LOAD-{i:05d}", PatientName=f"LOAD^P{i:05d}")
        write(ds, folder / f"s{i:05d}.dcm")
    return folder


def child_env(tmp: Path) -> dict[str, str]:
    """Environment of a driver child: offscreen, isolated settings/logs, the repo importable."""
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        XRAY_DESKTOP_SETTINGS=str(tmp / "cfg" / "settings.ini"),
        XRAY_DESKTOP_DATA_DIR=str(tmp / "data"),
        XRAY_DESKTOP_LOG_DIR=str(tmp / "logs"),
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
    )
    return env


@dataclass
class ChildRun:
    """What a driver child printed and reported."""

    confirmed: list[str] = field(default_factory=list)  # keys, in commit order
    killed: bool = False
    returncode: int | None = None
    report: dict[str, Any] = field(default_factory=dict)
    stderr: str = ""


def run_child(folder: Path, db: Path, tmp: Path, *, confirm: bool = True, kill_after: int = 0,
              rss_at: int = 0, cancel_folder: Path | None = None, cancel_after: int = 0,
              timeout: float = 900.0) -> ChildRun:
    """Run the driver on ``folder``; with ``kill_after`` send SIGKILL once that many reads are confirmed."""
    report = tmp / f"report-{time.monotonic_ns()}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--folder", str(folder), "--db", str(db),
           "--report", str(report), "--rss-at", str(rss_at)]
    if confirm:
        cmd.append("--confirm")
    if cancel_folder is not None:
        cmd += ["--cancel-folder", str(cancel_folder), "--cancel-after", str(cancel_after)]
    err_path = tmp / f"stderr-{time.monotonic_ns()}.txt"
    run = ChildRun()
    with open(err_path, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=child_env(tmp))
        assert proc.stdout is not None
        watchdog = threading.Timer(timeout, proc.kill)  # a hung child must not hang the caller
        watchdog.start()
        try:
            for line in proc.stdout:
                if line.startswith("confirmed ") and line.endswith("\n"):
                    run.confirmed.append(line.split()[1])
                    if kill_after and len(run.confirmed) >= kill_after:
                        proc.send_signal(signal.SIGKILL)
                        run.killed = True
                        break
        finally:
            watchdog.cancel()
            if proc.poll() is None and not run.killed:
                proc.kill()
            proc.stdout.close()
            run.returncode = proc.wait(timeout=60)
    run.stderr = err_path.read_text(errors="replace")
    if not run.killed:
        assert run.returncode == 0, f"driver child failed ({run.returncode}):\n{run.stderr[-3000:]}"
        run.report = json.loads(report.read_text())
    return run


def store_summary(db: Path) -> dict[str, Any]:
    """Reads per study key, plus the store's own integrity and chain checks."""
    from xray_desktop.records import Store

    with Store.open(db, create=False) as store:
        reads = store.reads(latest_only=False)
        verify = store.verify()
        integrity = store.conn.execute("PRAGMA integrity_check").fetchone()[0]
    per_key = Counter(r.study_key for r in reads)
    return {
        "reads": len(reads),
        "keys": len(per_key),
        "duplicates": sorted(k for k, c in per_key.items() if c > 1),
        "keys_set": set(per_key),
        "chain_ok": verify.ok,
        "integrity": integrity,
    }


def load_scenario(tmp: Path, n: int, kill_at: int, cancel_n: int = 200, cancel_after: int = 20) -> dict[str, Any]:
    """The load and crash-resume scenario; returns the measured numbers (see the README).

    1. ``n`` studies through a fresh window and database, each confirmed when analysed:
       heartbeat gaps, RSS after ``n // 10`` and after ``n`` confirmed reads; then a second
       folder of ``cancel_n`` studies is opened and cancelled after ``cancel_after``.
    2. The same ``n`` studies on a second database: SIGKILL once ``kill_at`` reads are
       confirmed, then a restart on the same folder and database finishes the work.
    """
    t0 = time.monotonic()
    folder = make_dicom_folder(tmp / "studies", n)
    cancel_folder = make_dicom_folder(tmp / "more", cancel_n)
    made_s = time.monotonic() - t0

    full = run_child(folder, tmp / "full.db", tmp, rss_at=max(n // 10, 1), cancel_folder=cancel_folder,
                     cancel_after=cancel_after)
    rep = full.report
    full_store = store_summary(tmp / "full.db")
    gaps = rep["gaps"]
    pipeline_gaps = [g for g, c in zip(gaps, rep["confirm_gaps"], strict=True) if not c]
    rss_a, rss_b = rep["rss"]["at_rss_point"], rep["rss"]["at_end"]

    killed = run_child(folder, tmp / "resume.db", tmp, kill_after=kill_at)
    before = store_summary(tmp / "resume.db")
    resumed = run_child(folder, tmp / "resume.db", tmp)
    after = store_summary(tmp / "resume.db")
    re_analysed = sorted(before["keys_set"] & set(resumed.report["batch_predicted_keys"]))
    re_asked = sorted(before["keys_set"] & set(resumed.confirmed))
    return {
        "studies": n,
        "folder_seconds": made_s,
        "full_run_seconds": rep["main_seconds"],
        "full_reads": full_store["reads"],
        "full_duplicates": len(full_store["duplicates"]),
        "full_chain_ok": full_store["chain_ok"] and full_store["integrity"] == "ok",
        "rss_at_10pct_mb": rss_a / 1e6,
        "rss_at_end_mb": rss_b / 1e6,
        "rss_growth_pct": 100.0 * (rss_b - rss_a) / rss_a,
        "rss_growth_per_study_kb": (rss_b - rss_a) / max(n - max(n // 10, 1), 1) / 1e3,
        "peak_rss_mb": rep["peak_rss"] / 1e6,
        "heartbeats": len(gaps),
        "stall_p50_ms": percentile(gaps, 0.50),
        "stall_p99_ms": percentile(gaps, 0.99),
        "stall_max_ms": max(gaps) if gaps else 0.0,
        "stall_p99_without_confirm_ms": percentile(pipeline_gaps, 0.99),
        "stall_max_without_confirm_ms": max(pipeline_gaps) if pipeline_gaps else 0.0,
        "confirm_p50_ms": percentile(rep["confirm_ms"], 0.50),
        "confirm_p99_ms": percentile(rep["confirm_ms"], 0.99),
        "confirm_max_ms": max(rep["confirm_ms"], default=0.0),
        "rss_probe_ms": rep.get("sample_ms", []),  # excluded from the stall numbers
        "full_gc_ms": sorted(rep.get("gc2_ms", []))[-5:],  # the slowest full collections
        "cancel": rep["cancel"],
        "killed_after_confirmed": len(killed.confirmed),
        "killed_by_sigkill": killed.killed and killed.returncode == -signal.SIGKILL,
        "reads_after_kill": before["reads"],
        "resume_confirmed": len(resumed.confirmed),
        "resume_batch_predictions": len(resumed.report["batch_predicted_keys"]),
        "resume_reads": after["reads"],
        "resume_keys": after["keys"],
        "resume_duplicates": len(after["duplicates"]) + len(before["duplicates"]),
        "resume_chain_ok": after["chain_ok"] and after["integrity"] == "ok",
        "re_analysed_after_restart": len(re_analysed),
        "re_asked_after_restart": len(re_asked),
        "printed_but_missing": len(set(killed.confirmed) - before["keys_set"]),
        "total_seconds": time.monotonic() - t0,
    }


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; ru_maxrss elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return peak_rss_bytes()


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# -- child side ------------------------------------------------------------------------------


def _child(args: argparse.Namespace) -> int:
    sys.path[:0] = [str(REPO), str(REPO / "tests" / "ui")]
    from fakes import FakeClassifier
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from xray_desktop import settings as keys
    from xray_desktop.domain import Diagnosis
    from xray_desktop.records import Store
    from xray_desktop.ui.main_window import MainWindow
    from xray_desktop.ui.settings_store import SettingsStore
    from xray_desktop.ui.study_list import DONE, Status
    from xray_desktop.ui.workers import configure_threads

    predicted: list[tuple[str, bool, float]] = []  # (key, heat map wanted, monotonic end time)

    class RecordingClassifier(FakeClassifier):
        def predict(self, study: Any, heatmap: bool = True) -> Any:
            p = super().predict(study, heatmap)
            predicted.append((study.key, heatmap, time.monotonic()))
            return p

    configure_threads()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings = SettingsStore()
    settings.set(keys.REVIEWER, "Dr Load")
    store = Store.open(Path(args.db))
    window = MainWindow(settings, store, lambda: RecordingClassifier())
    window.show()

    gaps: list[float] = []
    confirm_gaps: list[bool] = []  # True: a confirm (with its fsync'd commit) ran inside that gap
    confirm_ms: list[float] = []
    last = [time.perf_counter()]
    rss: dict[str, int] = {}
    state: dict[str, Any] = {"confirmed": 0, "cursor": 0, "phase": "main", "t0": time.monotonic(),
                             "confirm_in_gap": False}
    result: dict[str, Any] = {}

    def beat() -> None:
        now = time.perf_counter()
        gaps.append((now - last[0]) * 1000.0)
        confirm_gaps.append(state["confirm_in_gap"])
        state["confirm_in_gap"] = False
        last[0] = now

    def sample(label: str) -> None:
        t = time.perf_counter()
        gc.collect()
        rss[label] = rss_bytes()
        # The probe's own full collection (~1 s with 5,000 rows) is not the app's stall: the
        # heartbeat gap restarts after it, and its time is reported on its own.
        last[0] += time.perf_counter() - t
        result.setdefault("sample_ms", []).append((time.perf_counter() - t) * 1000.0)

    def on_gc(phase: str, info: dict[str, Any]) -> None:  # the interpreter's own full collections
        if info["generation"] == 2:
            if phase == "start":
                state["gc_t"] = time.perf_counter()
            elif "gc_t" in state:
                gc2_ms.append((time.perf_counter() - state.pop("gc_t")) * 1000.0)

    gc2_ms: list[float] = []
    gc.callbacks.append(on_gc)

    def finished() -> bool:
        rows = window.model.rows
        return bool(rows) and not window.batch.busy() and all(r.status in DONE for r in rows) and (
            not args.confirm or all(r.status in (Status.CONFIRMED, Status.ERROR) for r in rows))

    def confirm_next() -> None:
        rows = window.model.rows
        while state["cursor"] < len(rows) and rows[state["cursor"]].status in (Status.CONFIRMED, Status.ERROR):
            state["cursor"] += 1
        if state["cursor"] >= len(rows):
            return
        row = state["cursor"]
        if rows[row].status not in (Status.AI_READY, Status.REJECTED, Status.LOADED):
            return  # its analysis is not complete yet
        if window.list_panel.current_source_row() != row:
            window.list_panel.select_source_row(row)
        panel = window.diagnosis_panel
        if not panel.isEnabled():
            return
        panel.set_diagnosis(Diagnosis.PNEUMONIA if row % 2 else Diagnosis.NORMAL)
        panel.set_confidence(1 + row % 5)
        t_confirm = time.perf_counter()
        saved = window.confirm()
        confirm_ms.append((time.perf_counter() - t_confirm) * 1000.0)
        state["confirm_in_gap"] = True
        if saved:
            state["confirmed"] += 1
            print("confirmed", rows[row].key, flush=True)  # only after the commit returned
            if state["confirmed"] == args.rss_at:
                sample("at_rss_point")

    def tick() -> None:
        if state["phase"] == "main":
            if args.confirm:
                confirm_next()
            if finished():
                heartbeat.stop()
                sample("at_end")
                result["main_seconds"] = time.monotonic() - state["t0"]
                result["gaps"] = list(gaps)
                result["confirm_gaps"] = list(confirm_gaps)
                result["confirm_ms"] = list(confirm_ms)
                result["gc2_ms"] = list(gc2_ms)  # includes the probe's gc.collect() calls
                if args.cancel_folder:
                    start_cancel_phase()
                else:
                    finish()
        elif state["phase"] == "cancel-wait":
            done = sum(1 for r in window.model.rows[state["cancel_first_row"]:] if r.status in DONE)
            if done >= args.cancel_after:
                state["phase"] = "cancelled"
                state["cancel_calls"] = len(predicted)
                state["t_cancel"] = time.monotonic()
                window.list_panel.cancel_button.click()
                QTimer.singleShot(1500, measure_cancel)
        elif state["phase"] == "cancelled" and "t_idle" not in state:
            if not window.batch.busy() and window.batch.pool.activeThreadCount() == 0:
                state["t_idle"] = time.monotonic()

    def start_cancel_phase() -> None:
        state["phase"] = "cancel-wait"
        state["cancel_first_row"] = len(window.model.rows)
        window.open_paths([Path(args.cancel_folder)])

    def measure_cancel() -> None:
        t_cancel = state["t_cancel"]
        late = [t for _, _, t in predicted[state["cancel_calls"]:] if t > t_cancel]
        rows = window.model.rows[state["cancel_first_row"]:]
        idle_ms = (state.get("t_idle", float("inf")) - t_cancel) * 1000.0
        last_ms = (max(late) - t_cancel) * 1000.0 if late else 0.0
        result["cancel"] = {
            "rows": len(rows),
            "done_before_cancel": args.cancel_after,
            "predictions_after_cancel": len(late),
            "last_prediction_after_ms": last_ms,
            "loaders_idle_after_ms": idle_ms,
            "effective_ms": max(idle_ms, last_ms),
            "pool_idle": window.batch.pool.activeThreadCount() == 0,
            "busy": window.batch.busy(),
            "statuses": dict(Counter(r.status.name for r in rows)),
        }
        finish()

    def finish() -> None:
        batch_keys = sorted({k for k, heat, _ in predicted if not heat})
        view_keys = sorted({k for k, heat, _ in predicted if heat})
        result.update(
            rows=len(window.model.rows),
            statuses=dict(Counter(r.status.name for r in window.model.rows)),
            confirmed=state["confirmed"],
            predictions=len(predicted),
            batch_predicted_keys=batch_keys,
            view_predicted_keys=view_keys,
            rss=rss,
            peak_rss=peak_rss_bytes(),
            heartbeat_ms=HEARTBEAT_MS,
        )
        Path(args.report).write_text(json.dumps(result))
        window.shutdown()
        store.close()
        app.quit()

    heartbeat = QTimer()
    heartbeat.setInterval(HEARTBEAT_MS)
    heartbeat.timeout.connect(beat)
    driver = QTimer()
    driver.setInterval(1)
    driver.timeout.connect(tick)

    def start() -> None:
        window.open_paths([Path(args.folder)])
        last[0] = time.perf_counter()
        state["t0"] = time.monotonic()
        heartbeat.start()
        driver.start()

    QTimer.singleShot(200, start)  # after the first paint, as a user's drop would be
    print("ready", flush=True)
    return int(app.exec())


def main() -> int:
    """Parse the child's arguments and run it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--report", required=True)
    parser.add_argument("--confirm", action="store_true")
    parser.add_argument("--rss-at", type=int, default=0)
    parser.add_argument("--cancel-folder", default="")
    parser.add_argument("--cancel-after", type=int, default=0)
    return _child(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
