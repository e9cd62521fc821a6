"""A self-contained HTML site report: tables and PNG plots inline (base64), drawn with Pillow.

Matplotlib is not a dependency of the app; these plots need only lines, dots, bars and a
few labels, which Pillow draws well enough. Nothing here touches the network or Qt.
"""

from __future__ import annotations

import base64
import html
import io
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from xray_desktop.model import metrics
from xray_desktop.model.card import ModelCard
from xray_desktop.siteperf.data import Cases, changes_text

W, H, MARGIN = 460, 360, 52
GREY, BLUE, ORANGE, BLACK, LIGHT = (150, 150, 150), (31, 119, 180), (230, 120, 20), (30, 30, 30), (225, 225, 225)


class _Plot:
    """Axes over [x0, x1] x [y0, y1] on a white PNG, with a title and axis labels."""

    def __init__(self, title: str, xlabel: str, ylabel: str, x1: float = 1.0, y1: float = 1.0) -> None:
        self.img = Image.new("RGB", (W, H), "white")
        self.d = ImageDraw.Draw(self.img)
        self.font = ImageFont.load_default()
        self.x1, self.y1 = x1, y1
        self.legend_y = MARGIN - 4
        left, top, right, bottom = MARGIN, 36, W - 16, H - MARGIN
        self.box = (left, top, right, bottom)
        for i in range(6):  # grid and ticks at fifths
            gx = left + (right - left) * i / 5
            gy = bottom - (bottom - top) * i / 5
            self.d.line([(gx, top), (gx, bottom)], fill=LIGHT)
            self.d.line([(left, gy), (right, gy)], fill=LIGHT)
            self.d.text((gx - 8, bottom + 4), _tick(x1 * i / 5), fill=BLACK, font=self.font)
            self.d.text((left - 34, gy - 6), _tick(y1 * i / 5), fill=BLACK, font=self.font)
        self.d.rectangle(self.box, outline=BLACK)
        self.d.text((left, 4), title, fill=BLACK, font=self.font)
        self.d.text(((left + right) / 2 - 3 * len(xlabel), bottom + 20), xlabel, fill=BLACK, font=self.font)
        self.d.text((4, top - 14), ylabel, fill=BLACK, font=self.font)

    def xy(self, x: float, y: float) -> tuple[float, float]:
        left, top, right, bottom = self.box
        return left + (right - left) * x / self.x1, bottom - (bottom - top) * y / self.y1

    def line(self, xs: Sequence[float], ys: Sequence[float], colour: tuple[int, int, int], width: int = 2) -> None:
        pts = [self.xy(x, y) for x, y in zip(xs, ys, strict=True) if x == x and y == y]  # drop NaN
        if len(pts) > 1:
            self.d.line(pts, fill=colour, width=width)

    def dot(self, x: float, y: float, colour: tuple[int, int, int], r: int = 4, diamond: bool = False) -> None:
        if x != x or y != y:
            return
        cx, cy = self.xy(x, y)
        if diamond:
            self.d.polygon([(cx, cy - r - 2), (cx + r + 2, cy), (cx, cy + r + 2), (cx - r - 2, cy)], fill=colour)
        else:
            self.d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour, outline=BLACK)

    def bar(self, x0: float, x1: float, y: float, colour: tuple[int, int, int]) -> None:
        a, b = self.xy(x0, 0), self.xy(x1, y)
        self.d.rectangle([a[0], b[1], b[0], a[1]], fill=colour)

    def legend(self, text: str, colour: tuple[int, int, int]) -> None:
        right = self.box[2]
        self.d.rectangle([right - 150, self.legend_y, right - 140, self.legend_y + 10], fill=colour)
        self.d.text((right - 135, self.legend_y - 1), text, fill=BLACK, font=self.font)
        self.legend_y += 14

    def png(self) -> str:
        buf = io.BytesIO()
        self.img.save(buf, format="PNG", optimize=True)
        return base64.b64encode(buf.getvalue()).decode("ascii")


def _tick(v: float) -> str:
    return f"{v:.2f}" if v < 10 else f"{v:.0f}"


def roc_png(report: dict[str, Any], card: ModelCard, cases: Cases) -> str:
    """Site ROC over the validation ROC, with each operating point marked on both."""
    p = _Plot("ROC: site (blue) over validation (grey)", "1 - specificity", "sensitivity")
    t, sens, spec = card.roc_points()
    p.line(list(1 - spec), list(sens), GREY)
    if cases.n_positive and cases.n_negative:
        rows = metrics.roc_table(cases.y, cases.prob)
        p.line([1 - r["specificity"] for r in rows], [r["sensitivity"] for r in rows], BLUE)
    for op in report["operating_points"].values():
        site_point = op["source"] == "site"
        p.dot(1 - op["validation_specificity"], op["validation_sensitivity"], GREY)
        if op["sensitivity"] is not None and op["specificity"] is not None:
            p.dot(1 - op["specificity"], op["sensitivity"], ORANGE if site_point else BLUE, diamond=site_point)
    p.legend("validation", GREY)
    p.legend("site", BLUE)
    p.legend("site operating point", ORANGE)
    return p.png()


def reliability_png(report: dict[str, Any]) -> str:
    """Observed rate against mean predicted probability per bin, with Wilson whiskers."""
    p = _Plot("Reliability (site)", "mean predicted probability", "observed PNEUMONIA rate")
    p.line([0, 1], [0, 1], GREY, width=1)
    for b in report["calibration"]["bins"]:
        if not b["n"]:
            continue
        lo, hi = b["observed_ci"]
        p.line([b["mean_predicted"]] * 2, [lo, hi], BLUE, width=1)
        p.dot(b["mean_predicted"], b["observed"], BLUE, r=3 + min(b["n"], 400) // 80)
    p.legend("perfect calibration", GREY)
    p.legend("site (95 % CI)", BLUE)
    return p.png()


def histogram_png(hists: dict[str, Any], title: str, xlabel: str, x1: float = 1.0) -> str:
    """Site against validation distribution (fractions per bin), side by side bars."""
    site = hists["site"]
    val = hists.get("validation")
    top = max(site["fraction"] + (val["fraction"] if val else [])) or 1.0
    p = _Plot(title, xlabel, "fraction of films", x1=x1, y1=min(1.0, top * 1.15))
    edges = site["edges"]
    for i in range(len(edges) - 1):
        a, b = edges[i], edges[i + 1]
        mid = (a + b) / 2
        if val:
            p.bar(a, mid, val["fraction"][i], GREY)
            p.bar(mid, b, site["fraction"][i], BLUE)
        else:
            p.bar(a, b, site["fraction"][i], BLUE)
    if val:
        p.legend("validation", GREY)
    p.legend("site", BLUE)
    return p.png()


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f} %"


def _ci(ci: list[float | None] | None) -> str:
    return "" if not ci or ci[0] is None or ci[1] is None else f" ({ci[0] * 100:.1f}–{ci[1] * 100:.1f} %)"


def render_html(report: dict[str, Any], card: ModelCard, cases: Cases) -> str:
    """The whole report as one HTML page (no external resources)."""
    e = html.escape
    auc, ci = report["auc"], report["auc_ci"]
    auc_text = "—" if auc is None else f"{auc:.3f}" + (
        f" (95 % CI {ci[0]:.3f}–{ci[1]:.3f})" if ci and ci[0] is not None else "")
    val = report["validation"]
    rows = "".join(
        f"<tr><td>{e(name)}</td><td>{e(op['origin'])}</td><td>{op['threshold']:.4f}</td>"
        f"<td>{_pct(op['sensitivity'])}{_ci(op['sensitivity_ci'])}</td>"
        f"<td>{_pct(op['specificity'])}{_ci(op['specificity_ci'])}</td>"
        f"<td>{_pct(op['ppv'])}{_ci(op['ppv_ci'])}</td><td>{_pct(op['npv'])}{_ci(op['npv_ci'])}</td>"
        f"<td>{_pct(op['validation_sensitivity'])} / {_pct(op['validation_specificity'])}</td></tr>"
        for name, op in report["operating_points"].items())
    warnings = "".join(f"<li>{e(w)}</li>" for w in report["warnings"])
    excluded = ", ".join(f"{v} {e(k)}" for k, v in report["excluded"].items()) or "none"
    plots = [roc_png(report, card, cases), reliability_png(report),
             histogram_png(report["drift"]["probability"], "AI probability: site vs validation", "AI probability")]
    if "gate_score" in report["drift"]:
        gate = report["drift"]["gate_score"]
        plots.append(histogram_png(gate, "Input-gate score (site)", "OOD score", x1=gate["gate_threshold"]))
    imgs = "".join(f'<img alt="plot" src="data:image/png;base64,{png}">' for png in plots)
    ece = report["calibration"]["ece"]
    vece = report["calibration"]["validation_ece"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Site performance — {e(report['model']['name'])}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1000px}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}} .warn{{background:#fff3cd;padding:8px 16px}}
img{{margin:6px;border:1px solid #ddd}}</style></head><body>
<h1>Site performance of the AI</h1>
<p><b>Model:</b> {e(report['model']['name'])} {e(report['model']['version'])}
(SHA-256 <code>{e(report['model']['sha256'])}</code>)</p>
<p><b>Reference standard:</b> {e(report['reference_standard'])}.</p>
<p><b>Cases:</b> {report['n_reads']} ({report['n_positive']} PNEUMONIA, {report['n_negative']} NORMAL,
prevalence {_pct(report['prevalence'])}). Left out: {excluded}.</p>
{f"<p>{e(changes_text(report['read_first']))}</p>" if report.get("read_first") is not None else ""}
<p><b>AUC:</b> {auc_text}; validation AUC {_num(val.get('auc'))} ({e(val['origin'])}).
<b>ECE:</b> {_num(ece)}; validation ECE {_num(vece)}.</p>
{f'<div class="warn"><b>Warnings</b><ul>{warnings}</ul></div>' if warnings else ''}
<h2>Operating points</h2>
<table><tr><th>point</th><th>figures from</th><th>threshold</th><th>site sensitivity</th><th>site specificity</th>
<th>site PPV</th><th>site NPV</th><th>validation sens / spec at this threshold</th></tr>{rows}</table>
<p>95 % Wilson intervals; AUC interval by DeLong. PPV and NPV at this sample's prevalence.</p>
<h2>Plots</h2>{imgs}
</body></html>
"""


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def write_html(report: dict[str, Any], card: ModelCard, cases: Cases, out: Path) -> None:
    """Write the HTML report atomically."""
    text = render_html(report, card, cases)
    out = Path(out)
    if out.is_dir():
        raise ValueError(f"{out} is a folder; give a file name for the HTML report")
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
