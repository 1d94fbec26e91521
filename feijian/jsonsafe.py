"""One JSON sanitiser for everything feijian writes or serves as JSON."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import numpy as np
import pandas as pd


def jsonable(value: Any, digits: int | None = None) -> Any:
    """numpy scalars → Python, NaN/inf → None, dates → ISO text, recursive over dicts, lists and tuples;
    floats rounded to `digits` when given (reports meant for reading)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v, digits) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return value if digits is None else round(value, digits)
    if isinstance(value, pd.Timestamp | date):
        return value.isoformat()
    if value is pd.NaT or value is pd.NA:
        return None
    return value
