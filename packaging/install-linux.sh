#!/usr/bin/env bash
# Put xray-desktop in the user's applications menu (freedesktop: GNOME, KDE, XFCE, ...).
#
#   packaging/install-linux.sh                 install (bundle or venv found automatically)
#   packaging/install-linux.sh --bundle DIR    install the PyInstaller bundle in DIR (dist/xray-desktop)
#   packaging/install-linux.sh --exec PATH     install with this launcher executable (pip/venv install)
#   packaging/install-linux.sh --uninstall     remove what an install put there (= uninstall-linux.sh)
#
# Writes only per-user files, no root needed, and is idempotent (re-running replaces them):
#   ${XDG_DATA_HOME:-~/.local/share}/applications/xray-desktop.desktop
#   ${XDG_DATA_HOME:-~/.local/share}/icons/hicolor/{16..256}/apps/xray-desktop.png, scalable/apps/xray-desktop.svg
# The menu entry's Exec= is the absolute path of the launcher; the app itself is not copied,
# so move the bundle first and then (re-)run this script. Without options the launcher is, in order:
# the bundle this script sits in, <repo>/dist/xray-desktop, <repo>/.venv/bin/xray-desktop,
# xray-desktop on PATH, <repo>/.venv/bin/python <repo>/main.py.
set -euo pipefail

NAME="xray-desktop"
SIZES=(16 32 48 64 128 256)
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA_HOME="${XDG_DATA_HOME:-$HOME/.local/share}"
APPS_DIR="$DATA_HOME/applications"
ICON_DIR="$DATA_HOME/icons/hicolor"
DESKTOP_FILE="$APPS_DIR/$NAME.desktop"

die() { echo "install-linux.sh: $*" >&2; exit 1; }

# -- arguments -------------------------------------------------------------------------------------
MODE=install
BUNDLE=""
EXEC=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --bundle) BUNDLE="${2:?--bundle needs a folder}"; shift ;;
        --exec) EXEC="${2:?--exec needs a path}"; shift ;;
        --uninstall) MODE=uninstall ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done

refresh_caches() {
    # Best effort: menus also pick the files up on their own, just later.
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$APPS_DIR" 2>/dev/null || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1 && [[ -f "$ICON_DIR/index.theme" ]]; then
        gtk-update-icon-cache -q -f -t "$ICON_DIR" 2>/dev/null || true
    fi
}

if [[ "$MODE" == uninstall ]]; then
    rm -f "$DESKTOP_FILE" "$ICON_DIR/scalable/apps/$NAME.svg"
    for size in "${SIZES[@]}"; do
        rm -f "$ICON_DIR/${size}x${size}/apps/$NAME.png"
    done
    refresh_caches
    echo "removed the $NAME menu entry and icons from $DATA_HOME (the app and its data are untouched)"
    exit 0
fi

# -- what to launch --------------------------------------------------------------------------------
REPO="$(cd "$HERE/.." && pwd)"
RESOURCES=""
CMD=()
is_bundle() { [[ -x "$1/$NAME" && -d "$1/_internal/resources" ]]; }

if [[ -n "$EXEC" ]]; then
    [[ -x "$EXEC" ]] || die "--exec $EXEC is not an executable file"
    CMD=("$(cd "$(dirname "$EXEC")" && pwd)/$(basename "$EXEC")")
elif [[ -n "$BUNDLE" ]]; then
    is_bundle "$BUNDLE" || die "--bundle $BUNDLE is not a PyInstaller bundle (no $NAME and _internal/resources)"
    BUNDLE="$(cd "$BUNDLE" && pwd)"
    CMD=("$BUNDLE/$NAME")
    RESOURCES="$BUNDLE/_internal/resources"
elif is_bundle "$HERE"; then                       # the copy that build.sh puts inside the bundle
    CMD=("$HERE/$NAME")
    RESOURCES="$HERE/_internal/resources"
elif is_bundle "$REPO/dist/$NAME"; then
    CMD=("$REPO/dist/$NAME/$NAME")
    RESOURCES="$REPO/dist/$NAME/_internal/resources"
elif [[ -x "$REPO/.venv/bin/$NAME" ]]; then
    CMD=("$REPO/.venv/bin/$NAME")
elif command -v "$NAME" >/dev/null 2>&1; then
    CMD=("$(command -v "$NAME")")
elif [[ -x "$REPO/.venv/bin/python" && -f "$REPO/main.py" ]]; then
    CMD=("$REPO/.venv/bin/python" "$REPO/main.py")
else
    die "found no bundle and no installed $NAME: build one (make package) or pass --bundle/--exec"
fi
if [[ -z "$RESOURCES" ]]; then
    RESOURCES="$REPO/resources"
fi
TEMPLATE="$RESOURCES/$NAME.desktop"
[[ -f "$TEMPLATE" ]] || die "no $TEMPLATE"
[[ -f "$RESOURCES/icons/$NAME.svg" ]] || die "no icons in $RESOURCES/icons"

# Desktop Entry Exec quoting: arguments with reserved characters go in double quotes. Characters
# that would need escaping inside the quotes are refused rather than escaped (twice) by hand.
exec_arg() {
    local arg="$1"
    case "$arg" in
        *[\"\`\$\\%]*|*$'\n'*) die "cannot put a path containing \" \` \$ \\ % or a newline in a menu entry: $arg" ;;
    esac
    local reserved="[[:space:]'<>~|&;*?#()]"
    if [[ "$arg" =~ $reserved ]]; then
        printf '"%s"' "$arg"
    else
        printf '%s' "$arg"
    fi
}
EXEC_LINE=""
for part in "${CMD[@]}"; do
    EXEC_LINE+="$(exec_arg "$part") "
done
EXEC_LINE+="%F"

# -- install ---------------------------------------------------------------------------------------
mkdir -p "$APPS_DIR" "$ICON_DIR/scalable/apps"
tmp="$(mktemp "$APPS_DIR/.$NAME.desktop.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
while IFS= read -r line || [[ -n "$line" ]]; do
    case "$line" in
        Exec=*) printf 'Exec=%s\n' "$EXEC_LINE" ;;
        TryExec=*) printf 'TryExec=%s\n' "${CMD[0]}" ;;
        *) printf '%s\n' "$line" ;;
    esac
done <"$TEMPLATE" >"$tmp"
chmod 644 "$tmp"
mv -f "$tmp" "$DESKTOP_FILE"

for size in "${SIZES[@]}"; do
    src="$RESOURCES/icons/$NAME-$size.png"
    [[ -f "$src" ]] || die "missing icon $src"
    mkdir -p "$ICON_DIR/${size}x${size}/apps"
    install -m 644 "$src" "$ICON_DIR/${size}x${size}/apps/$NAME.png"
done
install -m 644 "$RESOURCES/icons/$NAME.svg" "$ICON_DIR/scalable/apps/$NAME.svg"

if command -v desktop-file-validate >/dev/null 2>&1; then
    desktop-file-validate "$DESKTOP_FILE" || echo "warning: desktop-file-validate complained (entry installed anyway)" >&2
fi
refresh_caches
echo "installed menu entry $DESKTOP_FILE"
echo "  Exec=$EXEC_LINE"
echo "  icons in $ICON_DIR (hicolor, ${SIZES[*]} px + scalable)"
echo "remove with: $HERE/uninstall-linux.sh"
