"""python -m xray_desktop.training: reproduce the bundled model from the data set."""

from xray_desktop.training.cli import main

raise SystemExit(main())
