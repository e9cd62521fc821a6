"""Start the workstation: python main.py [FILES_OR_FOLDERS...]."""

from xray_desktop.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
