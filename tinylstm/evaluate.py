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


# ------------------------------------------------------------------------------------- classification
def classification_metrics(y_true: np.ndarray, proba_or_labels: np.ndarray, classes: list[str]) -> dict:
    """Accuracy, macro-F1, per-class recall and the confusion matrix (rows: actual, columns: predicted).

    ``proba_or_labels``: (n, K) probabilities (argmax taken) or (n,) class indices."""
    from sklearn.metrics import confusion_matrix, f1_score, recall_score

    y_true = np.asarray(y_true).astype(np.int64).ravel()
    p = np.asarray(proba_or_labels)
    y_pred = p.argmax(axis=1) if p.ndim == 2 else p.astype(np.int64)
    labels = list(range(len(classes)))
    recall = recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    return {"accuracy": float((y_true == y_pred).mean()),
            "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
            "recall": {c: float(r) for c, r in zip(classes, recall)},
            "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(), "n": int(y_true.size)}


def classification_baselines(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray,
                             classes: list[str], seed: int = 0) -> dict[str, dict]:
    """The majority class of the training windows, and gradient boosting (scikit-learn's histogram gradient
    boosting, default settings) on the flattened windows (W×F raw values each)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    majority = int(np.bincount(np.asarray(y_train, np.int64), minlength=len(classes)).argmax())
    gb = HistGradientBoostingClassifier(random_state=seed).fit(X_train, np.asarray(y_train, np.int64))
    return {"majority_class": classification_metrics(y_test, np.full(len(y_test), majority), classes),
            "gradient_boosting": classification_metrics(y_test, gb.predict(X_test), classes)}


def forecast_baselines(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray,
                       persistence_test: np.ndarray) -> dict[str, Metrics]:
    """Persistence (the target's value at the window's last row) and linear regression on the flattened windows."""
    from sklearn.linear_model import LinearRegression

    lr = LinearRegression().fit(X_train, y_train)
    return {"persistence": regression_metrics(y_test, persistence_test),
            "linear_regression": regression_metrics(y_test, lr.predict(X_test))}
