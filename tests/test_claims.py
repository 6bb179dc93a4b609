"""Decision rules of the claims scorecard on synthetic results whose answer is known."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sinkgan import claims as C
from sinkgan import report

REPO = Path(__file__).resolve().parents[1]
POLICY = C.Policy(standin_data="inconclusive", min_iterations=100, tail=0.25, z=2.0)


def run(label: str, g=None, d=None, *, n: int = 400, noise: float = 0.01, seed: int = 0, standin: bool = False,
        iterations: int | None = None, config: dict | None = None, quality=None, rate=None, ssim=None) -> C.RunResult:
    """A run whose losses are ``g(t)``/``d(t)`` (callables of the iteration array, or constants) plus noise."""
    rng = np.random.default_rng(seed)
    it = np.arange(1, n + 1, dtype=float)

    def series(f):
        base = f(it) if callable(f) else np.full(n, 0.0 if f is None else float(f))
        return base + noise * rng.standard_normal(n)

    log = pd.DataFrame({"iteration": it, "gen_updates": it, "critic_updates": 10 * it,
                        "g_loss": series(g), "d_loss": series(d), "wall_seconds": it})
    summary = {"dataset": "photos-standin" if standin else "cats", "dataset_is_standin": standin,
               "stands_in_for": "cats" if standin else None, "iterations": iterations or n}
    return C.RunResult(label, label.replace(" ", ""), Path("/nonexistent") / label, summary=summary,
                       config=config or {}, log=log, quality=quality, rate=rate, ssim=ssim)


def fig(*runs: C.RunResult) -> C.FigureEvidence:
    return C.FigureEvidence("figX", list(runs))


# --------------------------------------------------------------------------- statistics


def test_tail_stat_and_compare():
    x = np.r_[np.full(75, 10.0), np.array([1.0, 2.0, 3.0] * 8 + [2.0])]
    st = C.tail_stat(x, 0.25)
    assert st.n == 25 and st.mean == pytest.approx(2.0) and st.sd == pytest.approx(np.std(x[-25:], ddof=1))
    a, b = C.TailStat(1.0, 0.1, 10), C.TailStat(2.0, 0.1, 10)
    assert C.compare(a, b, 1.0) == "<" and C.compare(b, a, 1.0) == ">"
    assert C.compare(a, b, 10.0) == "="  # |d| = 1 < 10 * sqrt(0.02)
    assert C.compare(C.TailStat(1.0, 0.1, 2), b, 1.0) == "?"  # too short a tail


def test_combine():
    assert C.combine(["yes", "yes"]) == "supported"
    assert C.combine(["yes", "no"]) == "contradicted"
    assert C.combine(["yes", "?"]) == "inconclusive"
    assert C.combine([]) == "inconclusive"


# --------------------------------------------------------------------------- rules


def _q(fid, kid, kid_std=0.001, is_mean=None, is_std=None):
    return {"fid": fid, "kid_mean": kid, "kid_std": kid_std, "is_mean": is_mean, "is_std": is_std, "extractor": "x"}


@pytest.mark.parametrize("ours, base, expected", [
    (_q(30, 0.010), _q(40, 0.020), "supported"),
    (_q(50, 0.030), _q(40, 0.020), "contradicted"),
    (_q(39, 0.0200), _q(40, 0.0201), "inconclusive"),  # KID difference within its noise
    (_q(30, 0.030), _q(40, 0.020), "inconclusive"),  # FID and KID disagree
])
def test_lower_fid(ours, base, expected):
    f = fig(run("ours", quality=ours), run("base", quality=base))
    assert C.lower_fid(f, POLICY, better="ours", worse="base").status == expected


def test_higher_is():
    f = fig(run("a", quality=_q(1, 0.1, is_mean=3.0, is_std=0.1)), run("b", quality=_q(1, 0.1, is_mean=2.0, is_std=0.1)))
    assert C.higher_is(f, POLICY, better="a", worse="b").status == "supported"
    assert C.higher_is(f, POLICY, better="b", worse="a").status == "contradicted"
    f = fig(run("a", quality=_q(1, 0.1)), run("b", quality=_q(1, 0.1)))
    v = C.higher_is(f, POLICY, better="a", worse="b")
    assert v.status == "inconclusive" and "not computed" in v.evidence


@pytest.mark.parametrize("g_ours, d_ours, expected", [
    (1.0, 3.0, "supported"),  # lower G, higher D than the baseline (2, 2)
    (3.0, 3.0, "contradicted"),  # higher G
    (2.0, 3.0, "inconclusive"),  # G equal
])
def test_loss_order(g_ours, d_ours, expected):
    f = fig(run("ours", g_ours, d_ours), run("base", 2.0, 2.0, seed=1))
    assert C.loss_order(f, POLICY, first="ours", second="base", g_loss="<", d_loss=">").status == expected


def test_loss_order_within_noise_is_inconclusive():
    f = fig(run("ours", 1.99, 2.01, noise=0.5), run("base", 2.0, 2.0, noise=0.5, seed=1))
    assert C.loss_order(f, POLICY, first="ours", second="base", g_loss="<", d_loss=">").status == "inconclusive"


def _eps_runs(g_by_eps, d_by_eps):
    return fig(*[run(f"eps = {e}", g, d, seed=i, config={"eps": e})
                 for i, (e, g, d) in enumerate(zip((0.001, 0.005, 0.01), g_by_eps, d_by_eps))])


def test_monotone_losses():
    labels = ["eps = 0.001", "eps = 0.005", "eps = 0.01"]
    kw = dict(by="eps", labels=labels, g_loss="increasing", d_loss="decreasing")
    assert C.monotone_losses(_eps_runs([1, 2, 3], [3, 2, 1]), POLICY, **kw).status == "supported"
    assert C.monotone_losses(_eps_runs([3, 2, 1], [3, 2, 1]), POLICY, **kw).status == "contradicted"
    assert C.monotone_losses(_eps_runs([1, 1, 3], [3, 2, 1]), POLICY, **kw).status == "inconclusive"
    with pytest.raises(C.ClaimSpecError, match="increasing eps"):
        C.monotone_losses(_eps_runs([1, 2, 3], [3, 2, 1]), POLICY, **{**kw, "labels": labels[::-1]})


def test_less_stable():
    ref = run("m = 100", lambda t: 1 - t / 1000, 1.0, noise=0.01)  # a steady descent is not instability
    shaky = [run("m = 200", 1.0, 1.0, noise=0.1, seed=1), run("m = 300", 1.0, 1.0, noise=0.2, seed=2)]
    calm = [run("m = 200", 1.0, 1.0, noise=0.001, seed=1), run("m = 300", 1.0, 1.0, noise=0.001, seed=2)]
    same = [run("m = 200", 1.0, 1.0, noise=0.01, seed=1), run("m = 300", 1.0, 1.0, noise=0.01, seed=2)]
    others = ["m = 200", "m = 300"]
    assert C.less_stable(fig(ref, *shaky), POLICY, reference="m = 100", others=others).status == "supported"
    assert C.less_stable(fig(ref, *calm), POLICY, reference="m = 100", others=others).status == "contradicted"
    assert C.less_stable(fig(ref, *same), POLICY, reference="m = 100", others=others).status == "inconclusive"


def test_similar_losses():
    kw = dict(reference="L = 10", others=["L = 50"], rel_tol=0.1)
    ref = run("L = 10", 2.0, 1.0)
    assert C.similar_losses(fig(ref, run("L = 50", 2.02, 1.01, seed=1)), POLICY, **kw).status == "supported"
    assert C.similar_losses(fig(ref, run("L = 50", 3.0, 1.0, seed=1)), POLICY, **kw).status == "contradicted"
    # too noisy to show equivalence within 10 %, yet not clearly different
    noisy = fig(run("L = 10", 2.0, 1.0, noise=0.3), run("L = 50", 2.05, 1.0, noise=0.3, seed=1))
    assert C.similar_losses(noisy, POLICY, **kw).status == "inconclusive"


def test_converges():
    flat = run("p = 5", lambda t: 1 + np.exp(-t / 20), 0.5)
    falling = run("p = 7", lambda t: 5 - t / 100, 0.5, seed=1)
    diverged = run("p = 7", 1.0, 0.5, seed=1)
    diverged.log.loc[350, "g_loss"] = np.nan
    assert C.converges(fig(flat), POLICY, labels=["p = 5"]).status == "supported"
    assert C.converges(fig(flat, falling), POLICY, labels=["p = 5", "p = 7"]).status == "inconclusive"
    assert C.converges(fig(flat, diverged), POLICY, labels=["p = 5", "p = 7"]).status == "contradicted"


def _ssim(final: float, rising: bool = False, steps: int = 40) -> pd.DataFrame:
    s = np.arange(1, steps + 1)
    val = final - (0.3 * (1 - s / steps) if rising else 0.0) + 0.001 * np.sin(s)
    return pd.DataFrame({"track": 0, "step": s, "gen_updates": s, "critic_updates": 10 * s, "ssim": val})


def test_ssim_tends_to_one():
    assert C.ssim_tends_to_one(fig(run("a", ssim=_ssim(0.99))), POLICY, labels=["a"]).status == "supported"
    assert C.ssim_tends_to_one(fig(run("a", ssim=_ssim(0.6))), POLICY, labels=["a"]).status == "contradicted"
    v = C.ssim_tends_to_one(fig(run("a", ssim=_ssim(0.6, rising=True))), POLICY, labels=["a"])
    assert v.status == "inconclusive" and "rising" in v.evidence


def _rate(k, half=0.1):
    return {"kappa": k, "ci_low": k - half, "ci_high": k + half, "intercept": 0.0, "r2": 0.9}


def test_kappa_rules():
    labels = ["n5", "n10", "n15"]
    f = fig(run("n5", rate=_rate(-1)), run("n10", rate=_rate(1)), run("n15", rate=_rate(-1)))
    assert C.kappa_differs(f, POLICY, labels=labels).status == "supported"
    want = {"n5": "-", "n10": "+", "n15": "-"}
    assert C.kappa_signs(f, POLICY, expected=want).status == "supported"
    f2 = fig(run("n5", rate=_rate(1)), run("n10", rate=_rate(1)), run("n15", rate=_rate(-1)))
    assert C.kappa_signs(f2, POLICY, expected=want).status == "contradicted"
    f3 = fig(run("n5", rate=_rate(-0.05)), run("n10", rate=_rate(0.05)), run("n15", rate=_rate(0.0)))
    assert C.kappa_signs(f3, POLICY, expected=want).status == "inconclusive"  # every interval holds 0
    assert C.kappa_differs(f3, POLICY, labels=labels).status == "inconclusive"  # all overlap


# --------------------------------------------------------------------------- policy and evaluation


def test_policy_downgrades_standin_and_short_runs():
    spec = C.ClaimsSpec(POLICY, [C.Claim("c", "lower G", "Fig. X", "figX", "loss_order",
                                         {"first": "a", "second": "b", "g_loss": "<"})])
    good = {"figX": fig(run("a", 1.0, 1.0), run("b", 2.0, 1.0, seed=1))}
    (res,) = C.evaluate_claims(spec, good)
    assert res["status"] == res["raw_status"] == "supported" and res["caveats"] == []
    standin = {"figX": fig(run("a", 1.0, 1.0, standin=True), run("b", 2.0, 1.0, seed=1, standin=True))}
    (res,) = C.evaluate_claims(spec, standin)
    assert (res["status"], res["raw_status"]) == ("inconclusive", "supported")
    assert "stand-in data" in res["evidence"] and "would say supported" in res["evidence"]
    short = {"figX": fig(run("a", 1.0, 1.0, iterations=12), run("b", 2.0, 1.0, seed=1, iterations=12))}
    (res,) = C.evaluate_claims(spec, short)
    assert res["status"] == "inconclusive" and "12 generator iterations" in res["evidence"]


def test_missing_evidence_is_inconclusive():
    spec = C.ClaimsSpec(POLICY, [C.Claim("c", "fid", "Fig. 10", "figX", "lower_fid", {"better": "a", "worse": "b"})])
    (res,) = C.evaluate_claims(spec, {"figX": fig(run("a"), run("b"))})
    assert res["status"] == "inconclusive" and "quality.json is missing" in res["evidence"]


def test_repository_claims_file_is_valid_and_matches_the_study():
    spec = C.load_claims(REPO / "config" / "claims.yaml")
    assert len(spec.claims) >= 10
    study = yaml.safe_load((REPO / "config" / "study.yaml").read_text())
    for c in spec.claims:
        labels = {r["label"] for r in study["figures"][c.figure]["runs"]}
        used = set()
        for key in ("better", "worse", "first", "second", "reference"):
            if key in c.args:
                used.add(c.args[key])
        for key in ("labels", "others"):
            used |= set(c.args.get(key, []))
        used |= set(c.args.get("expected", {}))
        assert used and used <= labels, f"claim {c.id}: labels {used - labels} not in {c.figure}"


@pytest.mark.parametrize("mutation, message", [
    ({"rule": "no_such_rule"}, "is not one of"),
    ({"args": {"better": "a", "worst": "b"}}, "bad args"),
    ({"id": "dup"}, "used twice"),
])
def test_load_claims_rejects_bad_specs(tmp_path, mutation, message):
    base = {"id": "dup", "claim": "x", "where": "y", "figure": "fig10", "rule": "lower_fid",
            "args": {"better": "a", "worse": "b"}}
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump({"claims": [base, {**base, "id": "other", **mutation}]}))
    with pytest.raises(C.ClaimSpecError, match=message):
        C.load_claims(path)


# --------------------------------------------------------------------------- deviations


def test_deviations_file_loads_and_switches_exist():
    devs = report.load_deviations(REPO / "config" / "deviations.yaml")
    assert len(devs) >= 8
    from sinkgan.config import TrainConfig

    fields = set(TrainConfig().to_dict())
    for d in devs:
        if d.switch and "." not in d.switch:
            assert d.switch in fields, f"deviation switch {d.switch!r} is not a TrainConfig field"
    md = report.deviations_markdown(devs)
    assert md.count("\n") == len(devs) + 2


def test_deviations_loader_names_the_bad_field(tmp_path):
    path = tmp_path / "dev.yaml"
    path.write_text(yaml.safe_dump({"deviations": [{"switch": "cost", "default": "x", "paper_text": "y",
                                                    "authors_code": "", "why": "w"}]}))
    with pytest.raises(ValueError, match=r"deviations\[0\]\.authors_code"):
        report.load_deviations(path)
