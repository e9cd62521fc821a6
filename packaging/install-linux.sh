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

# -- can the window open? ------------------------------------------------------------------------
# Qt's X11 (xcb) platform plugin needs these system libraries (PySide6 and the bundle carry none of
# them; without them the app stops with a message, see xray_desktop/platform_check.py, which holds
# the same table: a test keeps the two in step). Lines: soname, Debian/Ubuntu package, Fedora package.
XCB_LIBS=(
    "libxcb.so.1 libxcb1 libxcb"
    "libX11.so.6 libx11-6 libX11"
    "libX11-xcb.so.1 libx11-xcb1 libX11-xcb"
    "libxkbcommon.so.0 libxkbcommon0 libxkbcommon"
    "libxkbcommon-x11.so.0 libxkbcommon-x11-0 libxkbcommon-x11"
    "libxcb-cursor.so.0 libxcb-cursor0 xcb-util-cursor"
    "libxcb-icccm.so.4 libxcb-icccm4 xcb-util-wm"
    "libxcb-util.so.1 libxcb-util1 xcb-util"
    "libxcb-image.so.0 libxcb-image0 xcb-util-image"
    "libxcb-keysyms.so.1 libxcb-keysyms1 xcb-util-keysyms"
    "libxcb-render-util.so.0 libxcb-render-util0 xcb-util-renderutil"
    "libxcb-randr.so.0 libxcb-randr0 libxcb"
    "libxcb-render.so.0 libxcb-render0 libxcb"
    "libxcb-shape.so.0 libxcb-shape0 libxcb"
    "libxcb-shm.so.0 libxcb-shm0 libxcb"
    "libxcb-sync.so.1 libxcb-sync1 libxcb"
    "libxcb-xfixes.so.0 libxcb-xfixes0 libxcb"
    "libxcb-xkb.so.1 libxcb-xkb1 libxcb"
    "libEGL.so.1 libegl1 libglvnd-egl"
    "libGL.so.1 libgl1 libglvnd-glx"
    "libfontconfig.so.1 libfontconfig1 fontconfig"
)
check_xcb_libs() {
    local ldconfig cache soname apt dnf line cand internal=""
    local -a missing=() apts=() dnfs=()
    [[ "$RESOURCES" == */_internal/resources ]] && internal="${RESOURCES%/resources}"  # a bundle's own copies
    ldconfig="$(command -v ldconfig || true)"
    for cand in /sbin/ldconfig /usr/sbin/ldconfig; do
        [[ -n "$ldconfig" ]] || { [[ -x "$cand" ]] && ldconfig="$cand"; }
    done
    # `ldconfig -p` lists the loader's cache: "<tab>libfoo.so.1 (libc6,x86-64) => /path"; keep the sonames.
    if [[ -z "$ldconfig" ]] || ! cache="$("$ldconfig" -p 2>/dev/null | awk 'NR > 1 {print $1}')" || [[ -z "$cache" ]]; then
        echo "note: could not check the X11 libraries the window needs (no ldconfig)" >&2
        return 0
    fi
    for line in "${XCB_LIBS[@]}"; do
        read -r soname apt dnf <<<"$line"
        if grep -qxF "$soname" <<<"$cache" || [[ -n "$internal" && -e "$internal/$soname" ]]; then
            continue
        fi
        missing+=("$soname")
        [[ " ${apts[*]} " == *" $apt "* ]] || apts+=("$apt")
        [[ " ${dnfs[*]} " == *" $dnf "* ]] || dnfs+=("$dnf")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        echo "warning: the window will not open until these X11 libraries are installed: ${missing[*]}." >&2
        echo "  Debian/Ubuntu: sudo apt-get install ${apts[*]}" >&2
        echo "  Fedora/RHEL:   sudo dnf install ${dnfs[*]}" >&2
    fi
}

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
check_xcb_libs
echo "installed menu entry $DESKTOP_FILE"
echo "  Exec=$EXEC_LINE"
echo "  icons in $ICON_DIR (hicolor, ${SIZES[*]} px + scalable)"
echo "remove with: $HERE/uninstall-linux.sh"
