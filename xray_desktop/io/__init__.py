"""Study loading: DICOM and PNG/JPEG to presentation pixels. No Qt, no TensorFlow."""

from xray_desktop.io.errors import StudyLoadError
from xray_desktop.io.loader import MAX_PIXELS, load_study
from xray_desktop.io.scan import ScanItem, scan

__all__ = ["MAX_PIXELS", "ScanItem", "StudyLoadError", "load_study", "scan"]
