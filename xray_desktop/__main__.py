"""python -m xray_desktop [command]: the same CLI as the xray-desktop launcher."""

from xray_desktop.cli import main

raise SystemExit(main())
