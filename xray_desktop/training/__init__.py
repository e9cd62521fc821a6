"""Training of the bundled model (no Qt). Run: python -m xray_desktop.training --help."""
