"""Metrics against scikit-learn, and the baselines the report compares the LSTM with."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from tinylstm.evaluate import baselines, regression_metrics


def _check_against_sklearn(y, p):
    m = regression_metrics(y, p)
    assert m.mae == pytest.approx(skm.mean_absolute_error(y, p), rel=1e-12)
    assert m.rmse == pytest.approx(math.sqrt(skm.mean_squared_error(y, p)), rel=1e-12)
    assert m.r2 == pytest.approx(skm.r2_score(y, p), rel=1e-12)
    assert m.max_error == pytest.approx(skm.max_error(y, p), rel=1e-12)
    resid = np.asarray(y, float) - np.asarray(p, float)
    assert m.residual_mean == pytest.approx(resid.mean(), abs=1e-12)  # residual = actual - predicted
    assert m.residual_std == pytest.approx(np.std(resid), rel=1e-12)
    assert m.n == len(y)
    return m


def test_metrics_match_sklearn_on_random_data():
    rng = np.random.default_rng(0)
    y = rng.normal(10, 3, 500)
    p = y + rng.normal(0.2, 0.5, 500)
    m = _check_against_sklearn(y, p)
    assert m.residual_mean == pytest.approx(-0.2, abs=0.06)  # predictions are biased high by 0.2


def test_metrics_match_sklearn_on_the_trained_model(trained):
    _check_against_sklearn(trained.y_test, trained.keras_test)


def test_metric_edge_cases():
    m = regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert (m.mae, m.rmse, m.max_error, m.r2) == (0.0, 0.0, 0.0, 1.0)
    assert math.isnan(regression_metrics([2.0, 2.0], [1.0, 3.0]).r2)  # constant truth: R² undefined, not a crash


def test_baselines_on_the_reference_split(reference_csv):
    """The issue's figures on this split: linear regression about 0.35, gradient boosting about 0.29 L/100km."""
    from tinylstm.data import load_dataset, split

    ds = load_dataset(reference_csv)
    sp = split(len(ds.y))
    b = baselines(ds.X[sp.train], ds.y[sp.train], ds.X[sp.test], ds.y[sp.test])
    assert b["linear_regression"].mae == pytest.approx(0.35, abs=0.01)
    assert b["gradient_boosting"].mae == pytest.approx(0.29, abs=0.01)
    assert b["linear_regression"].n == 192


def test_random_forest_baseline_is_the_issue_figure(trained):
    """RandomForestRegressor(n_estimators=500, random_state=0) on the reference split: MAE 0.2703 (issue 13)."""
    from tinylstm.evaluate import baselines

    b = baselines(trained.X_train, trained.y_train, trained.X_test, trained.y_test)
    assert round(b["random_forest"].mae, 4) == 0.2703
    assert b["random_forest"].mae < float(np.mean(np.abs(trained.keras_test - trained.y_test)))  # said plainly
