"""``predict --by-study``: one CSV row per study, the AI reading the image ``io.studies`` chooses.

Files are grouped by their headers (``io.studies.group_studies``); per study only the chosen
image is decoded and predicted. When the input gate refuses it, or it does not load, the next
candidate is tried, so a study is "not assessed" only when every frontal candidate was refused
(or it has none: laterals are shown, not scored). Studies are predicted in bounded batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from xray_desktop import decision
from xray_desktop.io import StudyLoadError, load_study
from xray_desktop.io.studies import ImageStudy, choose_ai_image, group_studies

# Today's columns first, so readers of the per-file table keep working.
STUDY_EXTRA = ("study_uid", "n_images", "ai_image", "study_key", "views", "ai_image_reason")


class RowFns(NamedTuple):
    """``predict``'s row makers (``model.commands``), passed in: that module imports this one."""

    prediction_row: Callable[..., dict[str, Any]]
    error_row: Callable[[str, str, Any], dict[str, Any]]
    collision_note: Callable[[str], str]


@dataclass
class _State:
    """One study on its way to a row: what was refused so far, and the first refused answer."""

    study: ImageStudy
    refused: dict[Path, str] = field(default_factory=dict)
    first_refusal: dict[str, Any] | None = None  # the row of the first refused answer (no pixels kept)
    loaded_any: bool = False
    row: dict[str, Any] | None = None


def study_rows(clf: Any, paths: list[str], threshold: float, op_name: str, heatmap: bool, profile_id: str = "",
               *, fns: RowFns, batch: int = 16) -> Iterator[dict[str, Any]]:
    """One row per study (and one per unreadable file), in the order the studies were found."""
    prediction_row, error_row = fns.prediction_row, fns.error_row
    first_of_uid: dict[str, tuple[str, str]] = {}
    studies = group_studies(paths)

    def base(study: ImageStudy) -> dict[str, Any]:
        return {"study_uid": study.study_uid, "n_images": str(len(study.images)), "study_key": study.key,
                "views": study.views, "ai_image": ""}

    for start in range(0, len(studies), batch):
        states = [_State(s) for s in studies[start : start + batch]]
        for st in states:
            if st.study.error:  # a file that is no readable image: today's error row
                st.row = {**error_row(str(st.study.images[0].path), st.study.error, clf), **base(st.study)}
        while True:
            todo: list[tuple[_State, Path, Any]] = []
            for st in states:
                picked = _load_next(st) if st.row is None else None
                if picked is not None:
                    todo.append((st, *picked))
            if not todo:
                break
            preds = clf.predict_many([img for _, _, img in todo], batch_size=batch, heatmap=heatmap)
            for (st, path, img), pred in zip(todo, preds, strict=True):
                v = decision.verdict(pred.probability, threshold, pred.gate.accepted, pred.gate.reason,
                                     pred.out_of_scope)  # fmt: skip
                if not v.assessed:
                    st.refused[path] = v.reason or "no usable AI answer"
                    if st.first_refusal is None:
                        st.first_refusal = prediction_row(str(path), img, pred, threshold, op_name, profile_id)
                    continue
                row = prediction_row(str(path), img, pred, threshold, op_name, profile_id)
                uid = img.metadata.sop_instance_uid
                if uid:
                    sha, other = first_of_uid.setdefault(uid, (img.sha256, str(path)))
                    row["error"] = fns.collision_note(other) if sha != img.sha256 else ""
                reason = choose_ai_image(st.study, st.refused).reason
                st.row = {**row, **base(st.study), "ai_image": str(path), "ai_image_reason": reason}
        for st in states:
            yield st.row if st.row is not None else _not_assessed(st, clf, base(st.study), threshold, op_name,
                                                                  profile_id, fns)


def _load_next(st: _State) -> tuple[Path, Any] | None:
    """Decode the next candidate of ``st``'s study; a file that fails to load counts as refused."""
    while True:
        choice = choose_ai_image(st.study, st.refused)
        if choice.image is None:
            return None
        try:
            img = load_study(choice.image.path)
        except StudyLoadError as exc:
            st.refused[choice.image.path] = f"cannot load ({exc})"
            continue
        st.loaded_any = True
        return choice.image.path, img


def _not_assessed(st: _State, clf: Any, extra: dict[str, Any], threshold: float, op_name: str,
                  profile_id: str, fns: RowFns) -> dict[str, Any]:
    """The row of a study no image of which the AI could read: the reasons, no AI answer."""
    error_row = fns.error_row
    reason = "not assessed: " + choose_ai_image(st.study, st.refused).reason
    if st.first_refusal is not None:  # the first refused answer keeps its gate columns (ood_score)
        row = st.first_refusal
    else:
        status = "error" if st.refused and not st.loaded_any else "rejected"
        row = {**error_row(str(st.study.images[0].path), "", clf), "status": status,
               "threshold": f"{threshold:.6f}", "operating_point": op_name, "site_profile": profile_id}
    return {**row, **extra, "error": reason, "ai_image_reason": reason}
