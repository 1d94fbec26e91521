"""The model explained as a whole, for data scientists: which columns move scores, and how.

Mean |SHAP| importance (bar chart and CSV), a beeswarm summary (shap's summary plot) and dependence
plots (value against contribution) for the top columns, over every facility of one snapshot. It
takes the model matrix and its contributions (explain.contrib), so training and serving call it
alike. Labels are the bundle's Chinese column labels; `explain.charts.setup_fonts` makes them render.
Training logs these files to MLflow for each run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from explain.charts import setup_fonts
from feijian.tabular import write_csv

N_DEPENDENCE = 4
N_SUMMARY = 20


@dataclass(frozen=True)
class Explained:
    """One snapshot's facilities as one model saw them: its matrix X (model columns, in order), their
    contributions S (rows × columns, no bias), the columns' labels, and what to name in titles."""

    X: pd.DataFrame
    S: np.ndarray
    labels: Mapping[str, str]
    model_version: str
    snapshot_id: str

    @property
    def columns(self) -> list[str]:
        return list(self.X.columns)

    def label(self, column: str) -> str:
        return self.labels.get(column, column)


def importance(ex: Explained) -> pd.DataFrame:
    out = pd.DataFrame(
        {"column": ex.columns, "label": [ex.label(c) for c in ex.columns], "mean_abs_shap": np.abs(ex.S).mean(axis=0)}
    )
    return out.sort_values("mean_abs_shap", ascending=False, kind="mergesort").reset_index(drop=True)


def global_explanation(ex: Explained, out_dir: Path) -> list[Path]:
    """Write importance.csv, importance.png, beeswarm.png and dependence_<column>.png; return the paths."""
    setup_fonts()
    import matplotlib.pyplot as plt
    import shap

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    imp = importance(ex)
    paths = [out_dir / "importance.csv"]
    write_csv(imp, paths[0])

    top = imp.head(N_SUMMARY)
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(top) + 1.2), dpi=120)
    ax.barh(top["label"][::-1], top["mean_abs_shap"][::-1], color="#c62828")
    ax.set_xlabel("平均|SHAP|（对数几率）")
    ax.set_title(f"特征重要性 · 模型 v{ex.model_version} · 快照 {ex.snapshot_id}", fontsize=9)
    fig.tight_layout()
    paths.append(out_dir / "importance.png")
    fig.savefig(paths[-1])
    plt.close(fig)

    X, S = ex.X, ex.S
    shap.summary_plot(
        S, X, feature_names=[ex.label(c) for c in ex.columns], max_display=N_SUMMARY, show=False, plot_size=(9, 8)
    )
    plt.gca().set_xlabel("SHAP 贡献（对数几率）；颜色：特征值由低（蓝）到高（红）")
    paths.append(out_dir / "beeswarm.png")
    plt.gcf().savefig(paths[-1], dpi=110, bbox_inches="tight")
    plt.close("all")

    pos = {c: j for j, c in enumerate(ex.columns)}
    for col in imp["column"].head(N_DEPENDENCE):
        fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
        ax.scatter(X[col], S[:, pos[col]], s=8, alpha=0.6, color="#1565c0")
        ax.axhline(0, color="#999999", linewidth=0.6)
        ax.set_xlabel(ex.label(col))
        ax.set_ylabel("SHAP 贡献（对数几率）")
        ax.set_title(f"依赖图：{ex.label(col)}", fontsize=10)
        fig.tight_layout()
        paths.append(out_dir / f"dependence_{col}.png")
        fig.savefig(paths[-1])
        plt.close(fig)
    return paths
