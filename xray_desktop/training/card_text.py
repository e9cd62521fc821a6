"""Render the model card JSON as readable Markdown (MODEL_CARD.md)."""

from __future__ import annotations

from typing import Any


def _pct(v: float) -> str:
    return f"{100 * v:.1f} %"


def _stressed_sections(card: dict[str, Any]) -> list[str]:
    """Stress-validation table and per-member rows (model 2 cards only)."""
    st = card.get("validation_stressed")
    if not st:
        return []
    ss = card.get("stress_set", {})
    lines = [
        "## Stress validation (the validation films under site shifts)",
        f"{ss.get('images', '?')} images: {ss.get('variants_per_film', '?')} seeded chains of 1-3 shifts per "
        f"film from `{ss.get('function', '')}`; held-out shift: {ss.get('held_out_shift', '-')}.",
        "",
        "| metric | value | 95 % CI |",
        "| --- | --- | --- |",
    ]
    for key in ("auc", "sensitivity", "specificity", "accuracy", "brier", "ece"):
        m = st[key]
        lines.append(f"| {key} | {m['value']:.4f} | {m['ci95'][0]:.4f} – {m['ci95'][1]:.4f} |")
    members = card.get("architecture", {}).get("members", [])
    if members:
        lines += [
            "",
            "## Ensemble members (each alone, at its own stressed 95 %-sensitivity threshold)",
            "",
            "| seed | width | best epoch | clean AUC (95 % CI) | stressed AUC (95 % CI) | stressed sens / spec "
            "| member SHA-256 |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in members:
            c, s = r["clean"], r["stressed"]
            lines.append(
                f"| {r['seed']} | {r['width']} | {r['best_epoch']}/{r['epochs_run']} | {c['auc']['value']:.4f} "
                f"({c['auc']['ci95'][0]:.4f}–{c['auc']['ci95'][1]:.4f}) | {s['auc']['value']:.4f} "
                f"({s['auc']['ci95'][0]:.4f}–{s['auc']['ci95'][1]:.4f}) | {_pct(s['sensitivity']['value'])} / "
                f"{_pct(s['specificity']['value'])} | `{r['member_file_sha256'][:16]}…` |"
            )
        lines += ["", "Each member alone: its `command` in `model_card.json`; all of them and the artefacts: "
                  f"`{card['training']['command']}`. The shipped file embeds every member; its SHA-256 "
                  "(below) is what the app checks."]
    return [*lines, ""]


def render_markdown(card: dict[str, Any]) -> str:
    """A human-readable model card, generated from ``model_card.json`` (never edited by hand)."""
    v = card["validation"]
    td = card["training_data"]
    lines = [
        f"# Model card: {card['name']} {card['version']}",
        "",
        "_Generated from `model_card.json` by the training command; do not edit by hand._",
        "",
        "## Intended use",
        card["intended_use"],
        *_age_lines(card),
        "",
        "## Limitations",
        *[f"- {x}" for x in card["limitations"]],
        "",
        "## Validation (own patient-wise split; the held-out test split is reported separately)",
        f"{td['validation']['images']} images ({td['validation']['pneumonia']} pneumonia, "
        f"{td['validation']['normal']} normal) from {td['validation']['patients']} patients.",
        "",
        "| metric | value | 95 % CI |",
        "| --- | --- | --- |",
    ]
    for key in ("auc", "sensitivity", "specificity", "accuracy", "brier", "ece"):
        m = v[key]
        lines.append(f"| {key} | {m['value']:.4f} | {m['ci95'][0]:.4f} – {m['ci95'][1]:.4f} |")
    lines += ["", card.get("validation_note", ""), ""]
    lines += _stressed_sections(card)
    stressed_ops = "validation_stressed" in card
    if any("rule" in op for op in card["operating_points"].values()):
        return "\n".join(lines + _ruled_points(card))
    lines += [
        "## Operating points (threshold on the calibrated probability)",
        "Each is the most specific threshold whose "
        + ("STRESSED-validation" if stressed_ops else "validation") + " sensitivity meets its target.",
        "",
    ]
    if stressed_ops:
        lines += ["| name | stressed sensitivity target | threshold | stressed sensitivity | stressed specificity "
                  "| clean sensitivity | clean specificity |", "| --- | --- | --- | --- | --- | --- | --- |"]
    else:
        lines += ["| name | sensitivity target | threshold | sensitivity | specificity |",
                  "| --- | --- | --- | --- | --- |"]
    for name, op in card["operating_points"].items():
        star = " (default)" if name == card["default_operating_point"] else ""
        target = _pct(op["sensitivity_target"]) if "sensitivity_target" in op else "-"
        extra = (f"{_pct(op['stressed_sensitivity'])} | {_pct(op['stressed_specificity'])} | "
                 if stressed_ops else "")
        lines.append(f"| {name}{star} | {target} | {op['threshold']:.4f} | {extra}{_pct(op['sensitivity'])} | "
                     f"{_pct(op['specificity'])} |")
    return "\n".join(lines + _after_points(card))


def _rate(op: dict[str, Any], key: str) -> str:
    """'94.4 % (93.2–95.4)' with the Wilson interval when the card has one."""
    ci = op.get(f"{key}_wilson95")
    return _pct(op[key]) + (f" ({ci[0] * 100:.1f}–{ci[1] * 100:.1f})" if ci else "")


def _ruled_points(card: dict[str, Any]) -> list[str]:
    """Operating points that each carry their own rule (model 2 after ``training.repick``)."""
    lines = ["## Operating points (threshold on the calibrated probability)",
             "Each rule is applied to the STRESSED-validation scores only. Rates with Wilson 95 % intervals "
             "(images as units; the stressed set has 3 variants per film, so these are narrower than the "
             "patient-bootstrap CIs above).", "",
             "| name | rule | threshold | stressed sensitivity | stressed specificity | clean sensitivity "
             "| clean specificity |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, op in card["operating_points"].items():
        star = " (default)" if name == card["default_operating_point"] else ""
        lines.append(f"| {name}{star} | {op.get('rule', '-')} | {op['threshold']:.4f} | "
                     f"{_rate(op, 'stressed_sensitivity')} | {_rate(op, 'stressed_specificity')} | "
                     f"{_rate(op, 'sensitivity')} | {_rate(op, 'specificity')} |")
    return lines + _after_points(card)


def _after_points(card: dict[str, Any]) -> list[str]:
    """The default-point note, the ROC pointer and every section after the operating points."""
    v, td, tr = card["validation"], card["training_data"], card["training"]
    gate = card.get("gate", {})
    lines: list[str] = []
    if card.get("default_point_note"):
        lines += ["", "**Why the default point sits where it does.** " + card["default_point_note"]]
    lines += [
        "",
        f"The full validation ROC ({len(card['roc'])} rows, threshold -> sensitivity, specificity) "
        "is in `model_card.json` under `roc`"
        + (" (clean; the stressed one under `roc_stressed`)." if "roc_stressed" in card else "."),
        "",
        "## Calibration",
        f"{card['calibration']['method']}: T = {card['calibration']['temperature']:.4f}, "
        f"bias = {card['calibration']['bias']:.4f}. Brier {v['brier_uncalibrated']['value']:.4f} -> "
        f"{v['brier']['value']:.4f}, ECE {v['ece_uncalibrated']['value']:.4f} -> {v['ece']['value']:.4f}.",
        "",
        "## Input gate",
        f"{gate.get('method', '')}. Accepts {_pct(gate.get('validation_acceptance', float('nan')))} of "
        f"validation films"
        + (f" ({_pct(gate['stressed_validation_acceptance'])} of stressed ones)"
           if "stressed_validation_acceptance" in gate else "")
        + f"; rejects {_pct(gate.get('probe_rejection', float('nan')))} of probes:",
        "",
        "| probe | n | rejected |",
        "| --- | --- | --- |",
        *[f"| {k} | {p['n']} | {_pct(p['rejected'])} |" for k, p in gate.get("probes", {}).items()],
        "",
        "## Model",
        f"- file `{card['file']}`, SHA-256 `{card['sha256']}`, {card['size_bytes'] / 1e6:.1f} MB",
        f"- {card['architecture']['summary']}; {card['architecture']['parameters']:,} parameters",
        f"- input: {card['input']['preprocessing']}",
        "",
        "## Training",
        f"- data: {td['source']} ({td['licence']}); {td['images']} images; {td['split_rule']}",
        f"- train: {td['train']['images']} images ({td['train']['pneumonia']} pneumonia, "
        f"{td['train']['normal']} normal)",
        f"- command: `{tr['command']}`",
        *([f"- card re-written (operating points re-picked, same weights) by `{tr['artefacts_rewritten_by']}`"
           if ".repick " in tr["artefacts_rewritten_by"] else
           f"- artefacts re-written from the best checkpoint by `{tr['artefacts_rewritten_by']}`"]
          if tr.get("artefacts_rewritten_by") else []),
        f"- wall time: {tr['wall_time_seconds'] / 60:.0f} min on {tr['hardware']}; "
        f"{tr['epochs_run']} epochs run, best epoch {tr['best_epoch']}",
        "",
    ]
    return lines


def _age_lines(card: dict) -> list[str]:
    """The intended age range, which the app enforces (studies outside it are not scored)."""
    ages = card.get("intended_age_years")
    if not ages:
        return []
    return ["", f"Intended ages: {ages[0]:g} to under {ages[1]:g} years ({card.get('intended_age_note', '')}). "
            "DICOM studies whose PatientAge (or birth and study dates) fall outside are shown but not scored."]
