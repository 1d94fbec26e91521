"""Code that depends on the feature snapshot contract: labels, models, backtests, registry."""
