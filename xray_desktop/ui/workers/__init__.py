"""ALL threading of the GUI: inference worker thread, file-loading thread pool, reads writer,
trail check, DICOM receiver control thread.

Every request carries an id from :func:`next_request_id`; the receiver compares it with the
id it is waiting for and drops stale answers, so the user moving on never shows old results.
The package re-exports every name, so callers import from ``xray_desktop.ui.workers``.
"""

from xray_desktop.ui.workers.inference import (
    ClassifierLike,
    InferenceService,
    InferenceWorker,
    Loaded,
    ModelInfo,
    configure_threads,
    model_failure,
    newest_site_profile,
    next_request_id,
)
from xray_desktop.ui.workers.loading import JobSignals, JobTask, LoadSignals, LoadTask, ScanTask, make_pool
from xray_desktop.ui.workers.receiver import ReceiverService
from xray_desktop.ui.workers.records import ReadSaver, TrailChecker

__all__ = [
    "ClassifierLike", "InferenceService", "InferenceWorker", "JobSignals", "JobTask", "LoadSignals", "LoadTask",
    "Loaded", "ModelInfo", "ReadSaver", "ReceiverService", "ScanTask", "TrailChecker", "configure_threads",
    "make_pool", "model_failure", "newest_site_profile", "next_request_id",
]
