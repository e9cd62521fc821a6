"""Failures cross the worker boundary as typed values (WorkerFailure), not strings to re-parse."""

from __future__ import annotations

from fakes import FakeClassifier, write_broken

from xray_desktop.domain import FailureKind, WorkerFailure
from xray_desktop.model.classifier import ModelError
from xray_desktop.ui.workers import InferenceWorker, LoadSignals, LoadTask, model_failure


def test_model_errors_keep_their_kind_and_message_once():
    refused = model_failure(ModelError("AI model refused: stray file", FailureKind.MODEL_REFUSED))
    assert refused == WorkerFailure(FailureKind.MODEL_REFUSED, "AI model refused: stray file")
    missing = model_failure(ModelError("AI model unavailable: no model folder at /x"))
    assert missing.kind is FailureKind.LOAD_ERROR and missing.message.count("AI model unavailable") == 1
    bug = model_failure(KeyError("card"))
    assert bug.kind is FailureKind.UNEXPECTED and bug.message.count("AI model") == 1


def test_prediction_failures_are_typed(qapp):
    got: list[tuple[int, object]] = []

    class Broken(FakeClassifier):
        def predict(self, study, heatmap=True):
            raise ValueError("bad pixels")

    worker = InferenceWorker(Broken)
    worker.failed.connect(lambda rid, f: got.append((rid, f)))
    worker.predict(7, object(), False)  # no model yet: the load error is the reason
    worker.load_model()
    worker.predict(8, object(), False)
    assert got[0] == (7, WorkerFailure(FailureKind.LOAD_ERROR, "model not loaded"))
    assert got[1] == (8, WorkerFailure(FailureKind.ANALYSIS_ERROR, "analysis failed: bad pixels"))


def test_study_load_failures_are_typed(qapp, tmp_path):
    signals = LoadSignals()
    got: list[object] = []
    signals.failed.connect(lambda _rid, f: got.append(f))
    LoadTask(1, write_broken(tmp_path / "x.png"), signals).run()
    assert len(got) == 1 and isinstance(got[0], WorkerFailure) and got[0].kind is FailureKind.LOAD_ERROR
    assert got[0].message
