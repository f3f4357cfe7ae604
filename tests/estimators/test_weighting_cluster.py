"""Clustered standard errors for the weighting estimators (issue 11: ``--cluster`` was refused by ipw,
aipw, ra and overlap, and ``cluster=`` was not a parameter): the stacked influence functions are summed
within clusters, times G/(G-1)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import statsmodels.api as sm

import deconfound as dc
from deconfound.cli import main

METHODS = {"ipw": dc.ipw, "aipw": dc.aipw, "ra": dc.ra, "overlap": dc.overlap_weights}


@pytest.fixture(scope="module")
def heart():
    df = dc.datasets.heart_attack()
    rng = np.random.default_rng(4)
    df["ward"] = rng.integers(0, 23, len(df))
    df["Severity"] = df["Severity"] + rng.normal(0, 4, 23)[df["ward"]]  # a shared shock per ward
    df["row"] = np.arange(len(df))
    return df


def _fit(function, df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(df, outcome="Severity", treatment="Drug", covariates=["I.H"], **kw)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_one_row_per_cluster_is_the_robust_error_times_the_small_sample_factor(heart, name):
    plain, by_row = _fit(METHODS[name], heart), _fit(METHODS[name], heart, cluster="row")
    n = len(heart)
    assert by_row.estimate == plain.estimate
    assert by_row.std_error == pytest.approx(plain.std_error * np.sqrt(n / (n - 1)), rel=1e-10)
    by_ward = _fit(METHODS[name], heart, cluster="ward")
    assert by_ward.std_error != pytest.approx(plain.std_error, rel=1e-3)
    assert any("clustered by 'ward' (23 clusters" in note for note in by_ward.notes)


def test_ipw_with_a_known_score_matches_statsmodels_wls_clustered(heart):
    """A classifier's score is treated as known, so Hajek IPW is WLS of y on [1, t] with weights 1/e, 1/(1-e):
    statsmodels' cluster sandwich, less its (N-1)/(N-K) factor for linear models."""
    from sklearn.linear_model import LogisticRegression

    ours = _fit(dc.ipw, heart, cluster="ward", propensity_model=LogisticRegression(), cross_fit=None)
    e = ours.diagnostics["propensity"]["propensity_score"].to_numpy()
    t = heart["Drug"].to_numpy()
    w = np.where(t == 1, 1 / e, 1 / (1 - e))
    fit = sm.WLS(heart["Severity"].to_numpy(), sm.add_constant(t.astype(float)), weights=w).fit(
        cov_type="cluster", cov_kwds={"groups": heart["ward"].to_numpy()}
    )
    n, k = len(t), 2
    assert ours.estimate == pytest.approx(fit.params[1], rel=1e-10)
    assert ours.std_error == pytest.approx(fit.bse[1] * np.sqrt((n - k) / (n - 1)), rel=1e-8)


def test_ipw_with_a_logistic_score_matches_a_stacked_sandwich_by_hand(heart):
    """psi = [x (t - e); t/e (y - mu1); (1-t)/(1-e) (y - mu0)]; V = A^-1 B A^-T / n with B summed by cluster."""
    ours = _fit(dc.ipw, heart, cluster="ward", weighting="ht")
    x = sm.add_constant(heart[["I.H"]].to_numpy())
    t, y, g = heart["Drug"].to_numpy(float), heart["Severity"].to_numpy(), heart["ward"].to_numpy()
    theta = sm.Logit(t, x).fit(disp=0).params
    e = 1 / (1 + np.exp(-x @ theta))
    mu1, mu0 = np.mean(t * y / e), np.mean((1 - t) * y / (1 - e))

    def psi(p):
        th, m1, m0 = p[:2], p[2], p[3]
        ee = 1 / (1 + np.exp(-x @ th))
        return np.column_stack([x * (t - ee)[:, None], t / ee * y - m1, (1 - t) / (1 - ee) * y - m0])

    p0 = np.r_[theta, mu1, mu0]
    n, eps = len(t), 1e-6
    a = np.column_stack(
        [(psi(p0 + eps * np.eye(4)[j]).mean(0) - psi(p0 - eps * np.eye(4)[j]).mean(0)) / (2 * eps) for j in range(4)]
    )
    scores = psi(p0)
    sums = np.vstack([scores[g == k].sum(0) for k in np.unique(g)])
    groups = len(sums)
    b = sums.T @ sums / n * groups / (groups - 1)
    ainv = np.linalg.inv(a)
    v = ainv @ b @ ainv.T / n
    c = np.array([0, 0, 1, -1])
    assert ours.estimate == pytest.approx(mu1 - mu0, rel=1e-8)
    assert ours.std_error == pytest.approx(float(np.sqrt(c @ v @ c)), rel=1e-5)


def test_the_command_line_honours_cluster_for_weighting(capsys, tmp_path, heart):
    path = tmp_path / "heart.csv"
    heart.to_csv(path, index=False)
    argv = ["estimate", str(path), "-y", "Severity", "-t", "Drug", "-x", "I.H", "--method", "aipw", "--json", "-q"]
    assert main([*argv, "--cluster", "ward"]) == 0
    clustered = json.loads(capsys.readouterr().out)
    assert main(argv) == 0
    plain = json.loads(capsys.readouterr().out)
    assert clustered["estimate"] == plain["estimate"] and clustered["std_error"] != plain["std_error"]
    assert main([*argv, "--cluster", "ward,row"]) == 2
    assert "cluster by one column" in capsys.readouterr().err


def test_matching_still_refuses_cluster_with_a_message(capsys, tmp_path, heart):
    path = tmp_path / "heart.csv"
    heart.to_csv(path, index=False)
    argv = ["estimate", str(path), "-y", "Severity", "-t", "Drug", "-x", "I.H", "--method", "psm", "--cluster", "ward"]
    assert main(argv) == 2
    assert "--method psm does not use --cluster" in capsys.readouterr().err
