"""Metrics (in target units) and the baselines an LSTM has to beat."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Metrics:
    """Regression metrics in target units (residual = actual − predicted)."""

    mae: float
    rmse: float
    r2: float
    max_error: float
    residual_mean: float
    residual_std: float
    n: int

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> Metrics:
    """MAE, RMSE, R², max |error|, residual mean/std (population) of ``y_true - y_pred``."""
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    resid = y_true - y_pred
    ss_tot = float(((y_true - y_true.mean()) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / ss_tot if ss_tot > 0 else float("nan")
    return Metrics(float(np.abs(resid).mean()), float(np.sqrt((resid**2).mean())), r2,
                   float(np.abs(resid).max()), float(resid.mean()), float(resid.std()), int(resid.size))


def baselines(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray,
              seed: int = 0) -> dict[str, Metrics]:
    """Linear regression, gradient boosting and a random forest on the same raw features and split: does the LSTM
    earn its place? The random forest (500 trees, other settings scikit-learn's defaults) is the strongest simple
    baseline measured on the reference data."""
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import LinearRegression

    models = {"linear_regression": LinearRegression(),
              "gradient_boosting": GradientBoostingRegressor(random_state=seed),
              "random_forest": RandomForestRegressor(n_estimators=500, random_state=seed)}
    return {name: regression_metrics(y_test, m.fit(X_train, y_train).predict(X_test)) for name, m in models.items()}
