#!/usr/bin/env bash
# Build the one-folder bundle dist/xray-desktop/ with PyInstaller and prove it works headless.
#
#   bash packaging/build.sh [--no-gui-smoke] [--gui-seconds N]      (what `make package` runs)
#
# Steps: check the model folder is complete -> install PyInstaller into the venv if missing ->
# build from packaging/xray_desktop.spec -> check the bundle's layout -> run the bundle's
# `selftest` headless (QT_QPA_PLATFORM=offscreen) with both executables -> open the window
# offscreen on the reference image and check it stays up. Any failure fails the build (exit 1).
#
# Environment: VENV (default .venv), PYTHON (default $VENV/bin/python), PYINSTALLER_SPEC ("pyinstaller>=6.10"),
# STRIP_TF=0 to keep the symbol tables of the TensorFlow libraries (Linux).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

GUI_SMOKE=1
GUI_SECONDS=15
while [[ $# -gt 0 ]]; do
    case "$1" in
        --no-gui-smoke) GUI_SMOKE=0 ;;
        --gui-seconds) GUI_SECONDS="${2:?--gui-seconds needs a number}"; shift ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

VENV="${VENV:-.venv}"
EXE_SUFFIX=""
case "$(uname -s)" in
    MINGW*|MSYS*|CYGWIN*) EXE_SUFFIX=".exe"; DEFAULT_PY="$VENV/Scripts/python.exe" ;;
    *) DEFAULT_PY="$VENV/bin/python" ;;
esac
PY="${PYTHON:-$DEFAULT_PY}"
PYINSTALLER_SPEC="${PYINSTALLER_SPEC:-pyinstaller>=6.10}"
SPEC="packaging/xray_desktop.spec"
DIST="dist"
WORK="build/pyinstaller"
BUNDLE="$DIST/xray-desktop"
GUI="$BUNDLE/xray-desktop$EXE_SUFFIX"
CLI="$BUNDLE/xray-desktop-cli$EXE_SUFFIX"

say() { printf '\n== %s\n' "$*"; }
fail() { printf 'build.sh: FAILED: %s\n' "$*" >&2; exit 1; }

[[ -x "$PY" ]] || fail "no Python at $PY (create the venv first: make test, or set PYTHON)"

say "checking the model folder"
MODEL_FILES=(pneumonia_cnn.keras model_card.json MODEL_CARD.md gate.npz reference.png validation_files.txt)
for f in "${MODEL_FILES[@]}"; do
    [[ -s "resources/models/$f" ]] || fail "resources/models/$f is missing: train the model first (it is bundled)"
done
for size in 16 32 48 64 128 256; do
    [[ -s "resources/icons/xray-desktop-$size.png" ]] || fail "resources/icons/xray-desktop-$size.png is missing"
done

# Fingerprint of the model folder: the bundle must hold exactly this (training may rewrite it meanwhile).
models_digest() {
    "$PY" - "$1" <<'PYEOF'
import hashlib, pathlib, sys
root = pathlib.Path(sys.argv[1])
h = hashlib.sha256()
for p in sorted(q for q in root.rglob("*") if q.is_file()):
    h.update(p.relative_to(root).as_posix().encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
print(h.hexdigest())
PYEOF
}
MODELS_DIGEST="$(models_digest resources/models)"

say "checking PyInstaller"
if ! "$PY" -m PyInstaller --version >/dev/null 2>&1; then
    echo "PyInstaller not in $VENV: installing $PYINSTALLER_SPEC"
    "$PY" -m pip install -q "$PYINSTALLER_SPEC" || fail "could not install $PYINSTALLER_SPEC"
fi
echo "PyInstaller $("$PY" -m PyInstaller --version)"
"$PY" -c "import xray_desktop.cli, xray_desktop.app" || fail "the app does not import in $PY"

say "building $BUNDLE (PyInstaller, one-folder)"
start=$(date +%s)
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$WORK" "$SPEC" || fail "PyInstaller failed"
build_seconds=$(( $(date +%s) - start ))

say "checking the bundle's layout"
[[ -x "$GUI" ]] || fail "missing windowed launcher $GUI"
[[ -x "$CLI" ]] || fail "missing console executable $CLI"
INTERNAL="$BUNDLE/_internal"
[[ "$(models_digest "$INTERNAL/resources/models")" == "$MODELS_DIGEST" ]] \
    || fail "resources/models changed while building (is training writing it?): run the build again"
for f in "${MODEL_FILES[@]}"; do
    [[ -s "$INTERNAL/resources/models/$f" ]] || fail "bundle lacks resources/models/$f"
done
[[ -s "$INTERNAL/resources/icons/xray-desktop.svg" ]] || fail "bundle lacks the icons"
for dist in pylibjpeg pylibjpeg_libjpeg pylibjpeg_openjpeg pylibjpeg_rle; do
    compgen -G "$INTERNAL/${dist}-*.dist-info" >/dev/null || fail "bundle lacks $dist metadata (pylibjpeg plugins)"
done
if [[ "$(uname -s)" == Linux ]]; then
    for plugin in libqoffscreen.so libqxcb.so; do
        [[ -f "$INTERNAL/PySide6/Qt/plugins/platforms/$plugin" ]] || fail "bundle lacks Qt platform plugin $plugin"
    done
    # Ship the menu installer with the bundle: `xray-desktop/install-linux.sh` installs that copy.
    install -m 755 packaging/install-linux.sh packaging/uninstall-linux.sh "$BUNDLE/"
    # TensorFlow's own libraries carry full symbol tables (~200 MB). Strip just these: stripping
    # everything (the spec's strip=True) breaks the patchelf-ed libraries of other wheels. The
    # selftest below proves the stripped bundle still works.
    if [[ "${STRIP_TF:-1}" == 1 ]] && command -v strip >/dev/null 2>&1; then
        for lib in "$INTERNAL"/tensorflow/libtensorflow_cc.so.* "$INTERNAL"/tensorflow/libtensorflow_framework.so.*; do
            [[ -f "$lib" && ! -L "$lib" ]] && strip --strip-unneeded "$lib"
        done
        echo "stripped TensorFlow's symbol tables (STRIP_TF=0 to keep them)"
    fi
fi

# The checks below must not touch the user's real settings, database or logs.
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
export XRAY_DESKTOP_DATA_DIR="$SCRATCH/data" XRAY_DESKTOP_LOG_DIR="$SCRATCH/logs"
export XRAY_DESKTOP_DB="$SCRATCH/data/reads.sqlite3" XRAY_DESKTOP_SETTINGS="$SCRATCH/settings.ini"
export QT_QPA_PLATFORM=offscreen
unset XRAY_DESKTOP_MODEL_DIR  # the bundled model, nothing else

say "selftest inside the bundle (headless)"
"$CLI" selftest || fail "$CLI selftest"
if [[ -z "$EXE_SUFFIX" ]]; then
    # On Linux/macOS the windowed launcher still has stdout: check it too, as the issue asks.
    "$GUI" selftest || fail "$GUI selftest"
fi

if [[ "$GUI_SMOKE" == 1 ]]; then
    say "opening the window offscreen on the reference image for ${GUI_SECONDS}s"
    "$GUI" "$INTERNAL/resources/models/reference.png" >"$SCRATCH/gui.log" 2>&1 &
    gui_pid=$!
    sleep "$GUI_SECONDS"
    if kill -0 "$gui_pid" 2>/dev/null; then
        kill "$gui_pid" 2>/dev/null || true
        wait "$gui_pid" 2>/dev/null || true
        echo "window stayed up for ${GUI_SECONDS}s"
    else
        wait "$gui_pid" && rc=0 || rc=$?
        cat "$SCRATCH/gui.log" >&2
        fail "$GUI exited early (status $rc) when opening a study"
    fi
fi

say "done"
echo "bundle:      $BUNDLE ($(du -sh "$BUNDLE" | cut -f1))"
echo "build time:  ${build_seconds}s (PyInstaller only)"
echo "launcher:    $GUI   (windowed)"
echo "console:     $CLI   (selftest / predict / export / verify)"
