"""Load numbers: N studies through the real MainWindow (offscreen, fake classifier), kill -9 and resume.

    python benchmarks/reliability_load.py [--studies 5000] [--kill-at 2500] [--cancel 200]

Runs tests/reliability/gui_driver.py's scenario (the slow test asserts on the same numbers):
small synthetic DICOMs written with pydicom, each confirmed through MainWindow.confirm() as its
analysis completes; a 10 ms heartbeat timer on the GUI thread; RSS after 10 % and 100 % of the
studies; a second folder opened and cancelled; then a second database killed with SIGKILL at
``--kill-at`` confirmed reads and restarted on the same folder. Prints every number as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.reliability.gui_driver import load_scenario


def main() -> int:
    """Run the scenario in a temporary folder and print its numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=5000)
    parser.add_argument("--kill-at", type=int, default=0, help="default: half of --studies")
    parser.add_argument("--cancel", type=int, default=200, help="studies in the folder that is cancelled")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xray-load-") as tmp:
        m = load_scenario(Path(tmp), args.studies, kill_at=args.kill_at or args.studies // 2, cancel_n=args.cancel)
    print(json.dumps(m, indent=1, default=str))
    print(f"{m['studies']} studies: GUI stall p99 {m['stall_p99_ms']:.0f} ms (max {m['stall_max_ms']:.0f} ms), "
          f"RSS {m['rss_at_10pct_mb']:.0f} -> {m['rss_at_end_mb']:.0f} MB (+{m['rss_growth_pct']:.1f} %, "
          f"{m['rss_growth_per_study_kb']:.0f} KB/study), peak {m['peak_rss_mb']:.0f} MB, cancel effective in "
          f"{m['cancel']['effective_ms']:.0f} ms; killed after {m['killed_after_confirmed']} confirmed, resumed: "
          f"{m['resume_reads']} reads for {m['resume_keys']} studies, {m['resume_duplicates']} duplicates, "
          f"{m['re_analysed_after_restart']} re-analysed, {m['re_asked_after_restart']} re-asked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
