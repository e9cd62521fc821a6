"""The classifier runtime: verified loading, prediction, heat map and gate. No Qt.

TensorFlow is imported only inside :meth:`Classifier.load`, so importing this module
(or the GUI) stays fast; the GUI calls ``load`` on its inference worker thread.
"""

from __future__ import annotations

import json
import threading
import time
import zipfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xray_desktop.domain import FailureKind, GateResult, Prediction, Study
from xray_desktop.io.loader import file_sha256
from xray_desktop.model.card import CardError, ModelCard, OperatingPoint
from xray_desktop.model.gate import OodModel, rule_check
from xray_desktop.model.heatmap import SCALE_LOGIT as HEAT_SCALE_LOGIT
from xray_desktop.model.heatmap import from_cam, heat_shape
from xray_desktop.model.native_log import native_stderr_to_log, quiet_tensorflow_env
from xray_desktop.model.preprocess import INPUT_SIZE, finish, resized
from xray_desktop.model.trust import card_identity, custom_label, is_bundled, trusted_record

FEATURES_LAYER = "features"
LOGIT_LAYER = "logit"
# Channels of one network's feature map; an ensemble's ``features`` layer concatenates its members'.
MEMBER_CHANNELS = 256
# Files that could carry code when deserialised; a model folder holding one is refused.
_FORBIDDEN_SUFFIXES = (".h5", ".hdf5", ".pb", ".pkl", ".pickle", ".joblib", ".tflite")


class ModelError(Exception):
    """The model is missing, fails its integrity check or cannot be loaded.

    ``kind`` says which (``MODEL_REFUSED`` for a failed safety check), so the GUI can tell
    them apart without matching the message text.
    """

    def __init__(self, message: str, kind: FailureKind = FailureKind.LOAD_ERROR) -> None:
        super().__init__(message)
        self.kind = kind


def _refused(reason: str) -> ModelError:
    """A model that failed a safety check: "AI model refused: <reason>"."""
    return ModelError(f"AI model refused: {reason}", FailureKind.MODEL_REFUSED)


def verify_model_dir(model_dir: Path, require_trust: bool = True) -> ModelCard:
    """Check the card, the model file's SHA-256 and the folder's contents, before any load.

    Then, unless ``require_trust`` is False (the training pipeline checking what it just
    made; ``model trust``), refuse a model that is neither the bundled one nor trusted
    (see trust.py).
    """
    try:
        card = ModelCard.load(model_dir)
    except CardError as exc:
        raise ModelError(f"AI model unavailable: {exc}") from None
    path = model_dir / card.model_file
    if path.suffix != ".keras" or path.name != Path(card.model_file).name:
        raise _refused(f"only a .keras file in the model folder is loaded, not {card.model_file}")
    stray = sorted(p.name for p in model_dir.iterdir() if p.suffix.lower() in _FORBIDDEN_SUFFIXES)
    if stray:
        raise _refused(f"unexpected file {stray[0]} in the model folder")
    if not path.is_file():
        raise ModelError(f"AI model unavailable: {path.name} is missing from {model_dir}")
    digest = file_sha256(path)
    if digest != card.sha256:
        raise _refused(
            f"{path.name} fails its integrity check "
            f"(SHA-256 {digest[:12]}… does not match the model card's {card.sha256[:12]}…)"
        )
    _refuse_lambda(path)
    gate = card.data.get("gate", {})
    if gate.get("file"):
        gpath = model_dir / gate["file"]
        if not gpath.is_file() or file_sha256(gpath) != gate.get("sha256"):
            raise _refused(f"input-gate file {gate['file']} is missing or altered")
    identity = card_identity(card.data)
    if require_trust and not is_bundled(identity) and trusted_record(identity) is None:
        raise _refused(
            f"not the bundled model (model card SHA-256 {identity[:16]}…) and not trusted; "
            f"to use it, run: xray-desktop model trust {model_dir}"
        )
    return card


def _refuse_lambda(path: Path) -> None:
    """Read the .keras archive's config (plain JSON) and refuse Lambda layers."""
    try:
        with zipfile.ZipFile(path) as zf:
            config = json.loads(zf.read("config.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise _refused(f"{path.name} is not a valid .keras archive ({exc})") from None
    if '"Lambda"' in json.dumps(config):
        raise _refused(f"{path.name} contains a Lambda layer (arbitrary code)")


def _compiled(fn: Any) -> Any:
    """``fn(x)`` (a model, or :func:`_head`'s function) as ONE traced graph for any batch size.

    Why: an eager Keras call dispatches every layer from Python; for model 2's three
    members (75 small layers) that overhead was ~90 % of the call (187 ms vs 20 ms traced,
    batch 1). A fixed signature with an open batch dimension traces once, at the warm-up,
    and never retraces (batches of 1, 16 or a last partial one); no XLA, so the numbers
    equal the eager call's. TensorFlow backend only; other Keras backends keep the eager call.
    """
    import keras

    call = fn if not isinstance(fn, keras.Model) else (lambda x: fn(x, training=False))
    if keras.backend.backend() != "tensorflow":
        return call
    import tensorflow as tf

    spec = tf.TensorSpec((None, INPUT_SIZE, INPUT_SIZE, 1), tf.float32)
    return tf.function(call, input_signature=[spec], autograph=False)


def _head(both: Any, weights: np.ndarray, ood: OodModel | None) -> Any:
    """``x -> (n, h*w + 2)``: each row the CAM (h*w), the logit and the squared OOD distance.

    Why in the graph: the CAM and the gate's Mahalanobis product are a few hundred thousand
    multiply-adds, which the model's own thread pool does in microseconds while it is awake;
    in numpy they cost ~1 ms a study (and copying out the feature map). One packed float32
    output, because each output tensor costs a conversion. float32 sums in another order:
    equal to rounding (tests/model/test_predict_pinned.py).
    """
    from keras import ops

    w = ops.convert_to_tensor(np.asarray(weights, np.float32).reshape(-1))
    if ood is not None:
        mean = ops.convert_to_tensor(np.asarray(ood.mean, np.float32))
        precision = ops.convert_to_tensor(np.asarray(ood.precision, np.float32))

    def head(x: Any) -> Any:
        feats, logits = both(x, training=False)
        n = ops.shape(x)[0]
        cam = ops.reshape(ops.einsum("nhwc,c->nhw", feats, w), (n, -1))
        if ood is None:
            q = ops.zeros_like(logits)
        else:
            d = ops.mean(feats, axis=(1, 2)) - mean
            q = ops.sum(ops.matmul(d, precision) * d, axis=1, keepdims=True)
        return ops.concatenate([cam, ops.reshape(logits, (n, 1)), ops.reshape(q, (n, 1))], axis=1)

    return _compiled(head)


@dataclass(frozen=True)
class Prepared:
    """The model-free part of one study's prediction: the model input and the gate's rules."""

    x: np.ndarray
    rules: GateResult


_side: ThreadPoolExecutor | None = None
_side_lock = threading.Lock()


def _side_thread() -> ThreadPoolExecutor:
    """One process-wide worker thread for the gate's rules (made on first use)."""
    global _side
    with _side_lock:
        if _side is None:
            _side = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xray-gate-rules")
        return _side


class Classifier:
    """A loaded, verified model with its card; thread-confined to its loading thread."""

    def __init__(self, model: Any, card: ModelCard, model_dir: Path, ood: OodModel | None) -> None:
        self._model = model
        self.card = card
        self.identity = card_identity(card.data)
        self.custom = not is_bundled(self.identity)
        self.model_dir = model_dir
        self._ood = ood
        import keras

        features = model.get_layer(FEATURES_LAYER).output
        self._both = keras.Model(model.input, [features, model.output])
        self._call = _compiled(self._both)
        self._raw = _compiled(model)
        kernel = model.get_layer(LOGIT_LAYER).get_weights()[0]
        self._weights = np.asarray(kernel, dtype=np.float32).reshape(-1)
        self._heads = _head(self._both, self._weights, ood)
        self._cam_shape = tuple(int(d) for d in features.shape[1:3])
        # Heat-map colour scale in logit units, the same for every study (the card may set it).
        self._heat_scale = float(card.data.get("heatmap", {}).get("scale_logit", HEAT_SCALE_LOGIT))
        self._run_head(np.zeros((1, INPUT_SIZE, INPUT_SIZE, 1), np.float32))  # warm-up: trace once

    @classmethod
    def load(cls, model_dir: Path | None = None, require_trust: bool = True) -> Classifier:
        """Verify and load the model (imports TensorFlow). Raises :class:`ModelError`.

        ``require_trust=False`` skips only the bundled-or-trusted check (see verify_model_dir).
        """
        from xray_desktop.resources import model_dir as default_dir

        model_dir = Path(model_dir) if model_dir is not None else default_dir()
        if not model_dir.is_dir():
            raise ModelError(f"AI model unavailable: no model folder at {model_dir}")
        card = verify_model_dir(model_dir, require_trust)
        quiet_tensorflow_env()
        try:
            # TensorFlow's import, the load and the warm-up print native chatter on fd 2: to the log.
            with native_stderr_to_log():
                import keras

                model = keras.models.load_model(model_dir / card.model_file, safe_mode=True, compile=False)
                ood = None
                gate = card.data.get("gate", {})
                if gate.get("file"):
                    ood = OodModel.load(str(model_dir / gate["file"]))
                return cls(model, card, model_dir, ood)
        except ModelError:
            raise
        except Exception as exc:
            first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise ModelError(f"AI model could not be loaded: {first}") from exc

    # -- identity -------------------------------------------------------------------------
    @property
    def version(self) -> str:
        """The card's version; for any model but the bundled one, marked "custom model" with its hash."""
        return custom_label(self.card.version, self.identity) if self.custom else self.card.version

    @property
    def sha256(self) -> str:
        return self.card.sha256

    def operating_point(self, name: str | None = None) -> OperatingPoint:
        """A named operating point from the card (default when None)."""
        return self.card.operating_point(name)

    # -- inference ------------------------------------------------------------------------
    def _run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(features (n,h,w,c), logits (n,)) for a preprocessed batch."""
        feats, logits = self._call(np.asarray(x, np.float32))
        return np.asarray(feats), np.asarray(logits).reshape(-1)

    def _run_head(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(CAMs (n,h,w), logits (n,), OOD distances (n,)) for a preprocessed batch (see :func:`_head`)."""
        out = np.asarray(self._heads(np.asarray(x, np.float32)))
        cams = out[:, :-2].reshape(len(out), *self._cam_shape)
        return cams, out[:, -2], np.sqrt(np.maximum(out[:, -1].astype(np.float64), 0.0))

    def predict(self, study: Study, heatmap: bool = True) -> Prediction:
        """Calibrated probability, heat map and gate verdict for one study."""
        return next(self.predict_many([study], batch_size=1, heatmap=heatmap))

    @staticmethod
    def prepare(study: Study) -> Prepared:
        """Model input and rule verdict of one study: numpy and Pillow only, safe on any thread.

        ``predict``'s loader thread prepares the next files while the model runs (see
        ``predict_many(prepared=...)``); the result equals what a prediction computes itself.
        """
        small = resized(study.pixels)
        return Prepared(finish(small), rule_check(study, small))

    def predict_many(
        self, studies: Iterable[Study], batch_size: int = 16, heatmap: bool = True,
        prepared: Iterable[Prepared | None] | None = None,
    ) -> Iterator[Prediction]:
        """Predict lazily in batches; memory holds at most one batch of studies.

        ``prepared``, parallel to ``studies``, holds :meth:`prepare`'s result per study where
        it is already known (None where not).
        """
        pairs = zip(studies, prepared, strict=True) if prepared is not None else ((s, None) for s in studies)
        batch: list[tuple[Study, Prepared | None]] = []
        for pair in pairs:
            batch.append(pair)
            if len(batch) >= batch_size:
                yield from self._predict_batch(batch, heatmap)
                batch = []
        if batch:
            yield from self._predict_batch(batch, heatmap)

    def _predict_batch(self, batch: list[tuple[Study, Prepared | None]], heatmap: bool) -> list[Prediction]:
        t0 = time.perf_counter()
        studies = [s for s, _ in batch]
        ready = [p for _, p in batch if p is not None]
        if len(ready) == len(batch):
            x = np.stack([p.x for p in ready])
            verdicts = [p.rules for p in ready]
            cams, logits, distances = self._run_head(x)
        else:
            # The gate's rules need no model output: they run on a side thread during the model
            # call (which releases the GIL), once the film is resampled (the inverted-film rule
            # reads it). Started before the resample, they slowed it more than they gained.
            smalls = [resized(s.pixels) for s in studies]
            rules = _side_thread().submit(lambda: [rule_check(s, sm) for s, sm in zip(studies, smalls, strict=True)])
            x = np.stack([finish(sm) for sm in smalls])
            cams, logits, distances = self._run_head(x)
            verdicts = rules.result()
        probs = self.card.calibrate(logits)
        per_study = (time.perf_counter() - t0) * 1000 / len(studies)
        out = []
        for i, study in enumerate(studies):
            t1 = time.perf_counter()
            gate = verdicts[i]
            if gate.accepted and self._ood is not None:
                gate = self._ood.verdict(float(distances[i]))
            heat = None
            if heatmap:
                heat = from_cam(cams[i], *heat_shape(*study.pixels.shape), self._heat_scale)
            out.append(
                Prediction(
                    probability=float(probs[i]),
                    logit=float(logits[i]),
                    heatmap=heat,
                    gate=gate,
                    model_version=self.version,
                    model_sha256=self.sha256,
                    elapsed_ms=per_study + (time.perf_counter() - t1) * 1000,
                    model_input=x[i],
                    out_of_scope=self.card.out_of_scope(study.metadata.age_years),
                )
            )
        return out

    def member_logits(self, x: np.ndarray) -> np.ndarray:
        """(n, members) contributions of each member to the logit (bias excluded), for selftest.

        Why: the ensemble logit is their sum, so a broken member could hide behind the others
        in the reference logit alone.
        """
        feats, _ = self._run(np.asarray(x, np.float32))
        pooled = feats.mean(axis=(1, 2))
        k = max(pooled.shape[1] // MEMBER_CHANNELS, 1)
        parts = (pooled * self._weights).reshape(len(pooled), k, -1)
        return parts.sum(axis=2)

    def raw_logits(self, x: np.ndarray) -> np.ndarray:
        """The bare (compiled) model call on a preprocessed batch (benchmarks compare against it)."""
        return np.asarray(self._raw(np.asarray(x, np.float32))).reshape(-1)
