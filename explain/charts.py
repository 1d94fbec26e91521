"""Charts with Chinese labels: the CJK font set up once, a waterfall of one target's contributions.

matplotlib keeps a font cache; one built before Noto CJK was installed lists no CJK face and every
Chinese glyph comes out as a box. `setup_fonts` therefore adds the Noto Sans CJK files to the font
manager directly (no stale cache involved), selects "Noto Sans CJK SC" and turns off the Unicode
minus sign, which Noto CJK lacks. Call it in the command, never on import.
"""

from __future__ import annotations

import glob
import os
import subprocess
from pathlib import Path
from typing import Any

from feijian.errors import NotReadyError

CJK_FAMILY = "Noto Sans CJK SC"
FONT_GLOBS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-*.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-*.ttc",
    "/usr/share/fonts/**/NotoSansCJK*.tt[cf]",
)
_ready = False


def cjk_font_files() -> list[str]:
    for pattern in FONT_GLOBS:
        found = sorted(glob.glob(pattern, recursive=True))
        if found:
            return found
    try:
        out = subprocess.run(["fc-match", CJK_FAMILY, "-f", "%{file}"], capture_output=True, text=True, timeout=10)
        if "CJK" in out.stdout:
            return [out.stdout.strip()]
    except (OSError, subprocess.SubprocessError):
        pass
    return []


def require_fonts() -> None:
    """Stop at once, before any long work, when the reports could not show Chinese."""
    if not cjk_font_files():
        raise NotReadyError(
            "no Chinese font found: install Noto CJK (`apt-get install fonts-noto-cjk`, or run "
            "`scripts/system-deps.sh demo` as root), or charts and PDFs show boxes"
        )


def setup_fonts() -> None:
    """Register Noto Sans CJK with matplotlib (Agg backend); a clear error when the font is missing."""
    global _ready
    if _ready:
        return
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager

    require_fonts()
    for f in cjk_font_files():
        font_manager.fontManager.addfont(f)
    matplotlib.rcParams["font.family"] = [CJK_FAMILY, "DejaVu Sans"]
    matplotlib.rcParams["axes.unicode_minus"] = False
    _ready = True


def waterfall(contributions: list[dict], bias: float, out: Path, top: int = 12, title: str = "") -> Path:
    """Bias, then the largest contributions (log-odds), then the rest summed, ending at the score."""
    setup_fonts()
    import matplotlib.pyplot as plt

    items = contributions[:top]
    rest = sum(c["contribution"] for c in contributions[top:])
    labels = ["基准值（全体平均）"] + [f"{c['label']} = {c['value_text']}" for c in items]
    deltas = [bias] + [c["contribution"] for c in items]
    if contributions[top:]:
        labels.append(f"其余 {len(contributions) - top} 项")
        deltas.append(rest)
    fig, ax = plt.subplots(figsize=(8.0, 0.42 * len(labels) + 1.2), dpi=120)
    start = 0.0
    for i, d in enumerate(deltas):
        color = "#9e9e9e" if i == 0 else ("#c62828" if d > 0 else "#1565c0")
        ax.barh(i, d, left=start if i else 0.0, color=color, height=0.6)
        start = start + d if i else d
    ax.axvline(start, color="#333333", linewidth=0.8, linestyle="--")
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"风险分（对数几率），合计 {start:.2f}；红色推高、蓝色拉低")
    return _finish(fig, ax, out, title)


def amount_bars(labels: list[str], amounts: list[float], counts: list[int], out: Path, title: str = "",
                unit: str = "家") -> Path:  # fmt: skip
    """Horizontal bars of an amount per group (in 万元), each labelled with its count: the round report's
    totals by region, drawn for a reader who scans rather than reads a table."""
    setup_fonts()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.0, 0.36 * max(len(labels), 1) + 1.1), dpi=120)
    wan = [a / 1e4 for a in amounts]
    ax.barh(range(len(labels)), wan, color="#c62828", height=0.6)
    for i, (w, n) in enumerate(zip(wan, counts, strict=True)):
        ax.text(w, i, f" {w:,.1f} 万元 · {n} {unit}", va="center", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("万元")
    ax.set_xlim(0, max([*wan, 0.0]) * 1.35 or 1.0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _finish(fig, ax, out, title)


def _finish(fig: Any, ax: Any, out: Path, title: str) -> Path:
    """Title, layout, the PNG written to `out`, the figure closed."""
    import matplotlib.pyplot as plt

    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
