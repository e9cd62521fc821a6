"""The Qt user interface: main window, panels, worker threads. Only this package imports Qt widgets."""
