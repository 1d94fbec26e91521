"""Explanations of a model's scores, used by training (global importance logged with each run) and by
serving (reasons, contributions and evidence per target): SHAP contributions and their cache
(contrib), themes and reason sentences (reasons, targets), links to rule hits (evidence_links),
global importance plots (global_importance) and charts with Chinese labels (charts).

It imports only feijian and features; a bundle's boosters and labels are passed in.
"""
