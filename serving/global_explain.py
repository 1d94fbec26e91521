"""The model explained as a whole, for data scientists: which columns move scores, and how.

Mean |SHAP| importance (bar chart and CSV), a beeswarm summary (shap's summary plot) and dependence
plots (value against contribution) for the top columns, over every facility of the explainer's
snapshot. Labels are the Chinese declarations; `serving.charts.setup_fonts` makes them render.
Training logs these files to MLflow for each run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from feijian.tabular import write_csv
from serving.charts import setup_fonts
from training.dataset import column_label

if TYPE_CHECKING:
    from serving.explain import Explainer

N_DEPENDENCE = 4
N_SUMMARY = 20


def importance(explainer: Explainer) -> pd.DataFrame:
    lv = explainer.facilities
    S = lv.shap()
    out = pd.DataFrame(
        {"column": lv.columns, "label": [column_label(c) for c in lv.columns], "mean_abs_shap": np.abs(S).mean(axis=0)}
    )
    return out.sort_values("mean_abs_shap", ascending=False, kind="mergesort").reset_index(drop=True)


def global_explanation(explainer: Explainer, out_dir: Path) -> list[Path]:
    """Write importance.csv, importance.png, beeswarm.png and dependence_<column>.png; return the paths."""
    setup_fonts()
    import matplotlib.pyplot as plt
    import shap

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lv = explainer.facilities
    imp = importance(explainer)
    paths = [out_dir / "importance.csv"]
    write_csv(imp, paths[0])

    top = imp.head(N_SUMMARY)
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(top) + 1.2), dpi=120)
    ax.barh(top["label"][::-1], top["mean_abs_shap"][::-1], color="#c62828")
    ax.set_xlabel("平均|SHAP|（对数几率）")
    ax.set_title(f"特征重要性 · 模型 v{explainer.model_version} · 快照 {explainer.snapshot_id}", fontsize=9)
    fig.tight_layout()
    paths.append(out_dir / "importance.png")
    fig.savefig(paths[-1])
    plt.close(fig)

    X = lv.frame[lv.columns].astype(float)
    S = lv.shap()
    shap.summary_plot(
        S, X, feature_names=[column_label(c) for c in lv.columns], max_display=N_SUMMARY, show=False, plot_size=(9, 8)
    )
    plt.gca().set_xlabel("SHAP 贡献（对数几率）；颜色：特征值由低（蓝）到高（红）")
    paths.append(out_dir / "beeswarm.png")
    plt.gcf().savefig(paths[-1], dpi=110, bbox_inches="tight")
    plt.close("all")

    pos = {c: j for j, c in enumerate(lv.columns)}
    for col in imp["column"].head(N_DEPENDENCE):
        fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
        ax.scatter(X[col], S[:, pos[col]], s=8, alpha=0.6, color="#1565c0")
        ax.axhline(0, color="#999999", linewidth=0.6)
        ax.set_xlabel(column_label(col))
        ax.set_ylabel("SHAP 贡献（对数几率）")
        ax.set_title(f"依赖图：{column_label(col)}", fontsize=10)
        fig.tight_layout()
        paths.append(out_dir / f"dependence_{col}.png")
        fig.savefig(paths[-1])
        plt.close(fig)
    return paths
