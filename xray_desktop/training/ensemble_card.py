"""Model 2 artefacts: merge the members, calibrate and choose thresholds on the stress set, card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from xray_desktop.io.loader import file_sha256
from xray_desktop.model import metrics
from xray_desktop.model.card import CARD_FILE
from xray_desktop.model.gate import OodModel
from xray_desktop.model.preprocess import INPUT_SIZE, preprocess
from xray_desktop.training.finalize import (
    GATE_FILE,
    INTENDED_AGE_NOTE,
    INTENDED_AGE_YEARS,
    MODEL_FILE,
    card_header,
    probe_rejection,
    write_card,
)
from xray_desktop.training.probes import make_probes, reference_image
from xray_desktop.training.repick import (
    DEFAULT_OPERATING_POINT,
    MIN_STRESSED_SPECIFICITY,
    default_point_note,
    figures,
    most_specific_at_sensitivity,
    pick_operating_points,
    with_point_rows,
)
from xray_desktop.training.robust import predict_logits
from xray_desktop.training.stress import augment
from xray_desktop.training.stress_eval import STRESS_VARIANTS, stress_set

VERSION = "2.0.0"


def _member_threshold(ys: np.ndarray, ps: np.ndarray, target: float = 0.95) -> float:
    rows = [r for r in metrics.roc_table(ys, ps) if r["sensitivity"] >= target]
    return float(max(rows, key=lambda r: (r["specificity"], r["threshold"]))["threshold"])


def write_ensemble(
    *, out_dir: Path, data_dir: Path, run_dir: Path, configs: list, train: list, val: list,
    raw_train: np.ndarray, val_px: list[np.ndarray], command: str, wall_seconds: float, log: Any = print,
) -> dict[str, Any]:
    """Write the merged model, gate, card (JSON + Markdown), validation list and reference image."""
    import keras

    from xray_desktop.model.classifier import FEATURES_LAYER, Classifier
    from xray_desktop.training.arch import build_ensemble, build_model

    yv = np.array([e.label for e in val], np.float64)
    ys = np.repeat(yv, STRESS_VARIANTS)
    groups = [e.patient for e in val]
    sgroups = list(np.repeat(groups, STRESS_VARIANTS))
    log("serving-path validation tensors: clean and stressed (float32)")
    xv = np.stack([preprocess(p) for p in val_px])
    xs, _ = stress_set(val_px)

    members, rows = [], []
    for cfg in configs:
        mdir = run_dir / f"member-{cfg.seed}-w{cfg.width}"
        state_file = mdir / "state.json"
        done = state_file.exists() and json.loads(state_file.read_text()).get("done")
        if not done or not (mdir / "best.weights.h5").exists():
            # an unfinished member would make the recorded command irreproducible
            log(f"member {mdir.name} has not finished training: left out")
            continue
        model = build_model(INPUT_SIZE, width=cfg.width, dropout=cfg.dropout, pool=cfg.pool)
        model.load_weights(mdir / "best.weights.h5")
        member_file = mdir / "member.keras"
        model.save(member_file)
        zv, zs = predict_logits(model, xv), predict_logits(model, xs)
        t_k, b_k = metrics.fit_temperature(ys, zs)
        pv, ps = metrics.sigmoid((zv + b_k) / t_k), metrics.sigmoid((zs + b_k) / t_k)
        thr = _member_threshold(ys, ps)
        state = json.loads(state_file.read_text())
        row = {
            "seed": cfg.seed, "width": cfg.width, "parameters": int(model.count_params()),
            "command": f"{command} --members {cfg.seed}:{cfg.width}:{cfg.epochs} --train-only",
            "checkpoint": f"{mdir.name}/best.weights.h5", "member_file_sha256": file_sha256(member_file),
            "epochs_run": state["epoch"], "best_epoch": state["best_epoch"],
            "epochs_planned": cfg.epochs, "finished": bool(state.get("done")),
            "config": dict(vars(cfg)), "history": state["history"],
            "calibration": {"temperature": t_k, "bias": b_k},
            "clean": figures(yv, pv, groups, thr, n_boot=300),
            "stressed": figures(ys, ps, sgroups, thr, n_boot=300),
            "threshold_stressed_sens95": thr,
        }
        log(f"member {cfg.seed}:{cfg.width}: clean AUC {row['clean']['auc']['value']:.4f}, stressed AUC "
            f"{row['stressed']['auc']['value']:.4f}, stressed sens/spec {row['stressed']['sensitivity']['value']:.3f}"
            f"/{row['stressed']['specificity']['value']:.3f}")
        members.append((model, cfg, t_k, b_k, zv, zs))
        rows.append(row)
    if not members:
        raise RuntimeError("no trained member to ship")

    m = len(members)
    command = f"{command} --members " + ",".join(f"{c.seed}:{c.width}:{c.epochs}" for _, c, *_ in members)
    scales = [1.0 / (m * t) for _, _, t, _, _, _ in members]
    ens = build_ensemble([x[0] for x in members], [x[1].width for x in members], scales,
                         [x[3] for x in members], INPUT_SIZE, [x[1].pool for x in members])
    zv, zs = predict_logits(ens, xv), predict_logits(ens, xs)
    expect = sum(s * (x[4] + x[3]) for s, x in zip(scales, members, strict=True))
    assert np.allclose(zv, expect, atol=1e-3), "merged model does not reproduce the member average"

    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*"):
        if stale.is_file() and stale.name != ".gitkeep":
            stale.unlink()
    model_path = out_dir / MODEL_FILE
    ens.save(model_path)

    # Calibration on clean + stressed films together (3 of 4 are stressed): a site's films
    # look more like the stress set than like our clean validation.
    temperature, bias = metrics.fit_temperature(np.concatenate([yv, ys]), np.concatenate([zv, zs]))
    pv = metrics.sigmoid((zv + bias) / temperature)
    ps = metrics.sigmoid((zs + bias) / temperature)
    roc_s = metrics.roc_table(ys, ps)
    ops = pick_operating_points(yv, pv, ys, ps)  # on the stressed scores only (see training.repick)
    t_def = ops[DEFAULT_OPERATING_POINT]["threshold"]
    old_spec = metrics.confusion_at(ys, ps, most_specific_at_sensitivity(ys, ps, 0.95))["specificity"]
    log("bootstrap CIs (clean and stressed)")
    validation = figures(yv, pv, groups, t_def)
    validation["brier_uncalibrated"] = {"value": metrics.brier(yv, metrics.sigmoid(zv))}
    validation["ece_uncalibrated"] = {"value": metrics.ece(yv, metrics.sigmoid(zv))}
    stressed = figures(ys, ps, sgroups, t_def)

    log("fitting the input gate on clean + shifted training films")
    both = keras.Model(ens.input, [ens.get_layer(FEATURES_LAYER).output, ens.output])

    def pooled(x: np.ndarray) -> np.ndarray:
        return np.concatenate([np.asarray(both(x[i : i + 64], training=False)[0]).mean(axis=(1, 2))
                               for i in range(0, len(x), 64)])

    rng = np.random.default_rng(99)
    feats = []
    for i in range(0, len(raw_train), 256):
        chunk = raw_train[i : i + 256].astype(np.float32) / 255.0
        feats.append(pooled(np.stack([preprocess(c) for c in chunk])))
        feats.append(pooled(np.stack([preprocess(augment(c, rng, p=1.0)) for c in chunk])))
    ood = OodModel.fit(np.concatenate(feats).astype(np.float64))
    threshold = float(np.quantile(np.concatenate([ood.score(pooled(xv)), ood.score(pooled(xs))]), 0.995))
    ood = OodModel(ood.mean, ood.precision, threshold)
    ood.save(str(out_dir / GATE_FILE))

    (out_dir / "validation_files.txt").write_text("\n".join(e.rel_path for e in val) + "\n")
    ref_path = out_dir / "reference.png"
    reference_image(ref_path)
    td_val = {"images": len(val), "pneumonia": int(yv.sum()), "normal": int(len(yv) - yv.sum()),
              "patients": len(set(groups))}
    yt = np.array([e.label for e in train])
    fm = int(ens.get_layer(FEATURES_LAYER).output.shape[1])  # the CAM's grid (6 when the input is pooled)
    pool = max(c.pool for _, c, *_ in members)
    pooled_note = f" (input average-pooled {INPUT_SIZE} -> {INPUT_SIZE // pool} px)" if pool > 1 else ""
    card: dict[str, Any] = {
        **card_header("xray-desktop pediatric pneumonia CNN ensemble", VERSION, model_path),
        "architecture": {
            "summary": f"ensemble of {m} compact plain CNNs merged into one functional Keras model: per "
                       "member a 5x5 stride-2 stem and 3x3 conv blocks with batch norm + ReLU down to a "
                       f"{fm}x{fm}x256 feature map{pooled_note}; the members' maps are concatenated "
                       "(layer 'features'), "
                       "globally average-pooled and read by one Dense(1) 'logit' that holds every member's "
                       "head scaled by its own calibration (= the mean of the members' calibrated logits); "
                       "the heat map is the exact CAM of that average; no Lambda layers",
            "parameters": int(ens.count_params()),
            "members": rows,
        },
        "training_data": {
            "source": "Kermany, Zhang, Goldbaum (2018) Mendeley Data v2, doi:10.17632/rscbjbr9sj.2, "
                      "official train/ split, 224x224 redistribution",
            "licence": "CC BY 4.0",
            "images": len(train) + len(val),
            "train": {"images": len(train), "pneumonia": int(yt.sum()), "normal": int(len(yt) - yt.sum())},
            "validation": td_val,
            "split_rule": "15 % of patients per class held out for validation, seed 1234 (the 1.0.0 split); "
                          "patient = personN / IM-XXXX / NORMAL2-IM-XXXX from the file name; no patient in both",
            "validation_list": "validation_files.txt",
        },
        "training": {
            "command": command,
            "artefacts_rewritten_by": None,
            "wall_time_seconds": round(wall_seconds + sum(h["seconds"] for r in rows for h in r["history"])),
            "epochs_run": " + ".join(str(r["epochs_run"]) for r in rows),
            "best_epoch": " / ".join(str(r["best_epoch"]) for r in rows),
            "hardware": "2 shared CPU cores, no GPU",
            "augmentation": "xray_desktop.training.stress.augment on presentation pixels BEFORE preprocess "
                            "(p=0.85: 1-3 of unsharp masking, LUT curves, noise, blur, resampling, JPEG, "
                            "crop/scale/rotation, collimation borders, burned-in markers), label smoothing "
                            "0.05, class-balanced loss; checkpoint = best stressed-validation AUC",
        },
        "calibration": {"method": "temperature scaling with bias, p = sigmoid((logit + bias) / T), fitted on "
                                  "the clean + stressed validation logits together",
                        "temperature": temperature, "bias": bias},
        "validation": validation,
        "validation_stressed": stressed,
        "stress_set": {"variants_per_film": STRESS_VARIANTS, "images": len(ys),
                       "function": "xray_desktop.training.stress.stress_variant (seed "
                                   "xray_desktop.training.stress.STRESS_SEED)",
                       "held_out_shift": "local equalisation (never used in training)"},
        "validation_note": "95 % CIs from 1000 patient-level bootstrap resamples (stressed: the 3 variants of "
                           "a film move with its patient). Threshold-dependent metrics are at the default "
                           "operating point. Member rows: 300 resamples, at each member's own stressed "
                           "95 %-sensitivity threshold.",
        "default_point_note": default_point_note(MIN_STRESSED_SPECIFICITY, ops, old_spec),
        "roc": with_point_rows(metrics.roc_table(yv, pv), ops),
        "roc_stressed": roc_s,
        "operating_points": ops,
        "default_operating_point": DEFAULT_OPERATING_POINT,
        "gate": {"file": GATE_FILE, "sha256": file_sha256(out_dir / GATE_FILE),
                 "method": "rules (colour, aspect, blank/saturated, DICOM modality/body part/lateral "
                           "view) + Mahalanobis distance of pooled ensemble features from the training "
                           "films (clean and shifted)",
                 "ood_threshold": threshold},
        "intended_age_years": list(INTENDED_AGE_YEARS),  # the runtime withholds calls outside it
        "intended_age_note": INTENDED_AGE_NOTE,
        "intended_use": "A second reader for pediatric (about 1-5 years) frontal (AP/PA) chest "
                        "radiographs, flagging likely pneumonia for a radiologist who makes the "
                        "diagnosis. Never a standalone diagnosis.",
        "limitations": [
            "Trained on one centre's pediatric films (Guangzhou); not validated for adults.",
            "Frontal views only; lateral views are refused by the input gate.",
            "Pneumonia vs normal only: other findings (effusion, pneumothorax, masses, lines "
            "and tubes) are not detected and may be called either way.",
            "Validation is on a patient-wise split of the training source; the stress set imitates "
            "other sites' processing but shares all but one shift family with the training "
            "augmentation, so stressed figures are optimistic for those families.",
            "Bacterial and viral pneumonia are not distinguished.",
        ],
    }
    (out_dir / CARD_FILE).write_text(json.dumps(card, indent=1))
    log("checking the written model through the app's runtime; probing the gate")
    clf = Classifier.load(out_dir)
    from xray_desktop.io import load_study

    ref = clf.predict(load_study(ref_path), heatmap=False)
    card["reference"] = {"image": "reference.png", "probability": ref.probability, "tolerance": 0.002,
                         "logit": ref.logit, "logit_tolerance": 0.01,
                         "member_logits": [float(v) for v in clf.member_logits(ref.model_input[None])[0]]}
    from xray_desktop.training.stress_eval import score, stressed_studies

    val_studies = [load_study(data_dir / e.rel_path) for e in val]
    _, gate_clean = score(clf, val_studies)
    _, gate_stressed = score(clf, stressed_studies(val_studies))
    probe_results: dict[str, dict[str, float]] = {}
    for name, studies in make_probes(data_dir, val, seed=1234).items():
        _, accepted = score(clf, studies)
        probe_results[name] = {"n": len(accepted), "rejected": float(np.mean(~accepted))}
    card["gate"].update(
        validation_acceptance=float(np.mean(gate_clean)),
        stressed_validation_acceptance=float(np.mean(gate_stressed)),
        probe_rejection=probe_rejection(probe_results),
        probes=probe_results,
    )
    write_card(out_dir, card)
    log(f"clean AUC {validation['auc']['value']:.4f}, stressed AUC {stressed['auc']['value']:.4f}; default op "
        f"{ops[DEFAULT_OPERATING_POINT]}; gate accepts {card['gate']['validation_acceptance']:.3f} of val "
        f"({card['gate']['stressed_validation_acceptance']:.3f} stressed), rejects "
        f"{card['gate']['probe_rejection']:.3f} of probes")
    return card
