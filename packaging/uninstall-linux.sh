#!/usr/bin/env bash
# Remove the xray-desktop menu entry and icons that install-linux.sh put in ~/.local/share.
# The app (bundle or venv) and its data (database, settings, logs) are left alone.
set -euo pipefail
exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/install-linux.sh" --uninstall "$@"
