"""xray_desktop: a chest X-ray review workstation with an AI second reader."""

__version__ = "0.1.0"
