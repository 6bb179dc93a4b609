"""Decision rules of the claims scorecard on synthetic results whose answer is known."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sinkgan import claims as C
from sinkgan import report

REPO = Path(__file__).resolve().parents[1]
POLICY = C.Policy(standin_data="inconclusive", min_iterations=100, tail=0.25, z=2.0, short_runs="inconclusive")


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


def _ssim(final: float, rising: bool = False, falling: bool = False, steps: int = 40,
          reference: str | None = "previous") -> pd.DataFrame:
    s = np.arange(0, steps + 1)
    val = final - (0.3 * (1 - s / steps) if rising else 0.0) + (0.01 * (1 - s / steps) if falling else 0.0)
    val = np.where(s == 0, 1.0, val + 0.0001 * np.sin(s))  # step 0: theta^0 against itself
    df = pd.DataFrame({"track": 0, "step": s, "gen_updates": s, "critic_updates": 10 * s, "ssim": val})
    if reference is not None:
        df["reference"] = reference
    return df


def test_ssim_tends_to_one():
    assert C.ssim_tends_to_one(fig(run("a", ssim=_ssim(0.995))), POLICY, labels=["a"]).status == "supported"
    assert C.ssim_tends_to_one(fig(run("a", ssim=_ssim(0.6))), POLICY, labels=["a"]).status == "contradicted"
    v = C.ssim_tends_to_one(fig(run("a", ssim=_ssim(0.6, rising=True))), POLICY, labels=["a"])
    assert v.status == "inconclusive" and "rising" in v.evidence
    # still falling towards the threshold: not converged to 1 yet
    v = C.ssim_tends_to_one(fig(run("a", ssim=_ssim(0.992, falling=True))), POLICY, labels=["a"], threshold=0.99)
    assert v.status == "inconclusive" and "falling" in v.evidence


@pytest.mark.parametrize("reference", ["start", None])
def test_ssim_against_the_start_cannot_decide_convergence_to_one(reference):
    """Against the track's start SSIM can only fall from 1: the paper's protocol compares consecutive captures."""
    v = C.ssim_tends_to_one(fig(run("a", ssim=_ssim(0.995, reference=reference))), POLICY, labels=["a"])
    assert v.status == "inconclusive" and "preceding" in v.evidence and "would say supported" in v.evidence


def _rate(k, half=0.1, reference="previous", r2=0.9, lof_p=0.5):
    return {"kappa": k, "ci_low": k - half, "ci_high": k + half, "intercept": 0.0, "r2": r2, "reference": reference,
            "lack_of_fit_p": lof_p}


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


def test_kappa_from_start_reference_is_not_the_papers_kappa():
    f = fig(run("n5", rate=_rate(-1, reference="start")), run("n10", rate=_rate(1)), run("n15", rate=_rate(-1)))
    v = C.kappa_signs(f, POLICY, expected={"n5": "-", "n10": "+", "n15": "-"})
    assert (v.status, v.numbers["references"]["n5"]) == ("inconclusive", "start")
    assert "would say supported" in v.evidence
    assert C.kappa_differs(f, POLICY, labels=["n5", "n10"]).status == "inconclusive"


@pytest.mark.parametrize("r2, lof_p, expected", [
    (0.95, 0.4, "supported"),  # the line explains the points, no lack of fit
    (0.3, 1e-5, "contradicted"),  # the points bend away from the line
    (0.95, 1e-5, "inconclusive"),  # a good approximation that is detectably curved
    (0.3, 0.4, "inconclusive"),  # noise-dominated
])
def test_rate_fit_holds(r2, lof_p, expected):
    f = fig(run("a", rate=_rate(0.5, r2=r2, lof_p=lof_p)), run("b", rate=_rate(0.4)))
    assert C.rate_fit_holds(f, POLICY, labels=["a", "b"], min_r2=0.8, alpha=0.01).status == expected


def test_rate_fit_without_lack_of_fit_test_is_inconclusive():
    f = fig(run("a", rate=_rate(0.5, lof_p=None) | {"lack_of_fit_reason": "one track"}))
    v = C.rate_fit_holds(f, POLICY, labels=["a"])
    assert v.status == "inconclusive" and "one track" in v.evidence


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


def test_short_runs_decide_comparisons_at_their_length_but_not_claims_about_the_end_of_training():
    """policy.short_runs: qualify (the committed policy): runs shorter than the paper's count decide a
    comparison of equally long runs, and the verdict says at which length; a claim about what the
    paper's length reaches (needs_paper_length: convergence, stationary points) stays inconclusive."""
    pol = C.Policy(standin_data="qualify", min_iterations=1000, tail=0.25, z=2.0, short_runs="qualify")
    compare = C.Claim("c", "lower G", "Fig. X", "figX", "loss_order", {"first": "a", "second": "b", "g_loss": "<"})
    end_state = C.Claim(**{**compare.__dict__, "id": "e", "evidence": {"needs_paper_length": True}})
    short = {"figX": fig(run("a", 1.0, 1.0, iterations=12), run("b", 2.0, 1.0, seed=1, iterations=12))}
    res_c, res_e = C.evaluate_claims(C.ClaimsSpec(pol, [compare, end_state]), short)
    assert (res_c["status"], res_c["caveats"]) == ("supported", [])
    assert res_c["qualifier"] == "at 12 generator iterations (the paper: 1000)"
    assert res_c["evidence"].startswith("supported at 12 generator iterations (the paper: 1000): ")
    assert (res_e["status"], res_e["raw_status"], res_e["qualifier"]) == ("inconclusive", "supported", None)
    assert "what training reaches after the paper's count" in res_e["evidence"] and res_e["needs_paper_length"]
    # long enough: no length qualifier, and the end-state claim is decided
    long = {"figX": fig(run("a", 1.0, 1.0, iterations=1000), run("b", 2.0, 1.0, seed=1, iterations=1000))}
    res_c, res_e = C.evaluate_claims(C.ClaimsSpec(pol, [compare, end_state]), long)
    assert (res_c["status"], res_c["qualifier"], res_e["status"]) == ("supported", None, "supported")
    # both qualifiers at once: stand-in data and length
    standin = {"figX": fig(run("a", 1.0, 1.0, iterations=12, standin=True), run("b", 2.0, 1.0, seed=1, iterations=12, standin=True))}
    (res,) = C.evaluate_claims(C.ClaimsSpec(pol, [compare]), standin)
    assert res["qualifier"] == "on stand-in data (photos-standin for cats), at 12 generator iterations (the paper: 1000)"


def test_a_subset_of_the_papers_data_is_not_a_stand_in():
    """mnist5k is 5,000 of MNIST's own digits: a verdict on it is qualified by the subset and the
    length, never "on stand-in data", and a policy that downgrades stand-ins does not downgrade it."""
    def mnist5k(r: C.RunResult) -> C.RunResult:
        r.summary.update(dataset="mnist5k", dataset_is_standin=True, stands_in_for="mnist")
        return r

    compare = C.Claim("c", "lower G", "Fig. X", "figX", "loss_order", {"first": "a", "second": "b", "g_loss": "<"})
    runs = {"figX": fig(mnist5k(run("a", 1.0, 1.0, iterations=12)), mnist5k(run("b", 2.0, 1.0, seed=1, iterations=12)))}
    for standin_policy in ("qualify", "inconclusive"):
        pol = C.Policy(standin_data=standin_policy, min_iterations=1000, tail=0.25, z=2.0, short_runs="qualify")
        (res,) = C.evaluate_claims(C.ClaimsSpec(pol, [compare]), runs)
        assert res["status"] == "supported" and "stand-in" not in res["evidence"], standin_policy
        assert res["qualifier"] == ("on a subset of the paper's data (mnist5k: real mnist images, fewer of them), "
                                    "at 12 generator iterations (the paper: 1000)")


def test_a_scale_that_decides_no_claim_leaves_every_verdict_inconclusive():
    """The smoke scale's narrowed networks (claims_undecidable in config/study.yaml): its 12-iteration
    numbers must not be shown as the paper supported or contradicted, even qualified."""
    pol = C.Policy(standin_data="qualify", min_iterations=1000, tail=0.25, z=2.0, short_runs="qualify")
    compare = C.Claim("c", "lower G", "Fig. X", "figX", "loss_order", {"first": "a", "second": "b", "g_loss": "<"})
    short = {"figX": fig(run("a", 1.0, 1.0, iterations=12), run("b", 2.0, 1.0, seed=1, iterations=12))}
    why = yaml.safe_load((REPO / "config" / "study.yaml").read_text())["scales"]["smoke"]["claims_undecidable"]
    (res,) = C.evaluate_claims(C.ClaimsSpec(pol, [compare]), short, scale_caveat=why)
    assert (res["status"], res["raw_status"]) == ("inconclusive", "supported")
    assert res["caveats"][0] == why and why in res["evidence"]


def test_committed_claims_mark_the_end_of_training_claims():
    """Convergence, the tracking protocol's stationary point and 'after one million iterations' are
    claims about the paper's length; quality and loss comparisons are not."""
    spec = C.load_claims(REPO / "config" / "claims.yaml")
    assert spec.policy.short_runs == "qualify"
    by_rule = {}
    for c in spec.claims:
        by_rule.setdefault(c.rule, set()).add(c.needs_paper_length)
    for rule in ("converges", "faster_convergence", "ssim_tends_to_one", "rate_fit_holds", "kappa_differs", "kappa_signs"):
        assert by_rule[rule] == {True}, rule
    for rule in ("lower_fid", "similar_quality", "loss_order", "monotone_losses", "lower_loss_at_equal_time"):
        assert by_rule[rule] == {False}, rule


def test_missing_evidence_is_inconclusive():
    spec = C.ClaimsSpec(POLICY, [C.Claim("c", "fid", "Fig. 10", "figX", "lower_fid", {"better": "a", "worse": "b"})])
    (res,) = C.evaluate_claims(spec, {"figX": fig(run("a"), run("b"))})
    assert res["status"] == "inconclusive" and "quality.json is missing" in res["evidence"]


def test_an_unfinished_run_is_not_evidence(tmp_path):
    """A run directory that training is still writing (config.yaml and a growing log.csv, no
    summary.json) decides no claim, and the reason says it has not finished; once its summary is
    written the same log decides."""
    rng = np.random.default_rng(0)
    dirs = {}
    for name, g, d in (("a", 1.0, 3.0), ("b", 2.0, 2.0)):  # a: lower G loss, higher D loss than b
        folder = tmp_path / "results" / "small" / name
        folder.mkdir(parents=True)
        (folder / "config.yaml").write_text(yaml.safe_dump({"eps": 1.0, "provenance": {"commit": "abc1234"}}))
        noise = 0.01 * rng.standard_normal((200, 2))
        (folder / "log.csv").write_text("iteration,gen_updates,critic_updates,g_loss,d_loss,wall_seconds\n" + "".join(
            f"{i},{i},{10 * i},{g + e[0]},{d + e[1]},{i}\n" for i, e in enumerate(noise, 1)))
        dirs[name] = folder
    spec = C.ClaimsSpec(POLICY, [C.Claim("c", "losses", "Fig. 15", "figX", "loss_order",
                                         {"first": "a", "second": "b", "g_loss": "<", "d_loss": ">"})])
    (res,) = C.evaluate_claims(spec, {"figX": C.FigureEvidence("figX", [C.load_run_result(dirs[n], n) for n in "ab"])})
    assert res["status"] == "inconclusive"
    assert "results/small/a/summary.json is missing: run 'a' has not finished" in res["evidence"]
    # an empty (or absent) directory is simply missing, not unfinished
    empty = tmp_path / "results" / "small" / "c"
    empty.mkdir()
    assert not C.load_run_result(empty, "c").unfinished
    assert not C.load_run_result(tmp_path / "nowhere", "c").unfinished
    for n in "ab":
        (dirs[n] / "summary.json").write_text(json.dumps({"iterations": 200, "dataset": "cats"}))
    (res,) = C.evaluate_claims(spec, {"figX": C.FigureEvidence("figX", [C.load_run_result(dirs[n], n) for n in "ab"])})
    assert res["status"] == "supported", res["evidence"]


LABEL_ARGS = ("better", "worse", "first", "second", "reference", "faster", "slower", "labels", "others")


def claim_labels(c: C.Claim) -> set[str]:
    used = set(c.args.get("expected", {}))
    for key in LABEL_ARGS:
        v = c.args.get(key, [])
        used |= {v} if isinstance(v, str) else set(v)
    return used


def test_repository_claims_file_is_valid_and_matches_the_study():
    spec = C.load_claims(REPO / "config" / "claims.yaml")
    assert len(spec.claims) >= 10
    study = yaml.safe_load((REPO / "config" / "study.yaml").read_text())
    sing = yaml.safe_load((REPO / "config" / "sing.yaml").read_text())
    sing_figs = {e["figure"]: e for e in sing["experiments"].values()}
    paper = study["scales"]["paper"]
    for c in spec.claims:
        if c.figure in sing_figs:
            labels = set(C.sing_labels(sing_figs[c.figure]))
            name = next(k for k, e in sing["experiments"].items() if e["figure"] == c.figure)
            paper_iters = {**sing["scales"]["paper"]["all"], **(sing["scales"]["paper"].get(name) or {})}["steps"]
        else:
            labels = {r["label"] for r in study["figures"][c.figure]["runs"]}
            paper_iters = paper.get("iterations_by_figure", {}).get(c.figure, paper["train"]["iterations"])
        used = claim_labels(c)
        if c.rule == "not_decidable":
            assert not used and c.args["reason"]
            continue
        assert used and used <= labels, f"claim {c.id}: labels {used - labels} not in {c.figure}"
        # the paper scale can decide every claim: its runs are at least as long as the claim requires
        assert c.min_iterations(spec.policy) <= paper_iters, f"claim {c.id} needs more iterations than the paper scale"


def test_claims_on_tracking_and_long_runs_require_the_papers_iteration_counts():
    """The paper judges Fig. 4 and Figs. 19-22 after about 1e6 iterations and Figs. 17-18 after 6e5."""
    spec = C.load_claims(REPO / "config" / "claims.yaml")
    paper = yaml.safe_load((REPO / "config" / "study.yaml").read_text())["scales"]["paper"]
    for c in spec.claims:
        if c.figure in ("fig04", "fig05", "fig17", "fig18", "fig19", "fig20", "fig21", "fig22") and c.rule != "not_decidable":
            want = paper.get("iterations_by_figure", {}).get(c.figure, paper["train"]["iterations"])
            assert c.min_iterations(spec.policy) == want, c.id
    assert spec.policy.standin_data == "qualify"


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


# --------------------------------------------------------------------------- rules added for issue 11


def test_faster_convergence():
    fast = run("ours", lambda t: 1 + np.exp(-t / 10), lambda t: 0.5 - 0.5 * np.exp(-t / 10))
    slow = run("base", lambda t: 1 + np.exp(-t / 60), lambda t: 0.5 - 0.5 * np.exp(-t / 60), seed=1)
    kw = dict(rel_tol=0.05, blocks=20)
    assert C.faster_convergence(fig(fast, slow), POLICY, faster="ours", slower="base", **kw).status == "supported"
    swapped = fig(run("ours", lambda t: 1 + np.exp(-t / 60), 0.5), run("base", lambda t: 1 + np.exp(-t / 10), 0.5, seed=1))
    assert C.faster_convergence(swapped, POLICY, faster="ours", slower="base", columns=["g_loss"], **kw).status == "contradicted"
    same = fig(run("ours", lambda t: 1 + np.exp(-t / 30), 0.5), run("base", lambda t: 1 + np.exp(-t / 30), 0.5, seed=1))
    assert C.faster_convergence(same, POLICY, faster="ours", slower="base", columns=["g_loss"], **kw).status == "inconclusive"
    drifting = fig(fast, run("base", lambda t: 5 - t / 100, 0.5, seed=1))  # never settles: cannot say
    assert C.faster_convergence(drifting, POLICY, faster="ours", slower="base", columns=["g_loss"], **kw).status == "inconclusive"


def test_similar_trends():
    ref = run("p1", lambda t: 1 + np.exp(-t / 50), lambda t: 0.2 + 0.3 * (1 - np.exp(-t / 50)))
    alike = run("p2", lambda t: 2 + 1.5 * np.exp(-t / 60), lambda t: 0.1 + 0.2 * (1 - np.exp(-t / 40)), seed=1)
    opposite = run("p2", lambda t: 2 - np.exp(-t / 50), lambda t: 0.1 + 0.2 * (1 - np.exp(-t / 40)), seed=1)
    flat = run("p2", 2.0, 0.3, seed=1)
    kw = dict(reference="p1", others=["p2"], min_corr=0.8)
    assert C.similar_trends(fig(ref, alike), POLICY, **kw).status == "supported"
    assert C.similar_trends(fig(ref, opposite), POLICY, **kw).status == "contradicted"
    assert C.similar_trends(fig(ref, flat), POLICY, **kw).status == "contradicted"  # one moves, the other does not
    both_flat = fig(run("p1", 1.0, 0.3), flat)
    assert C.similar_trends(both_flat, POLICY, **kw).status == "inconclusive"


def test_fid_rules_over_several_runs():
    f = fig(run("L = 10", quality=_q(30, 0.010)), run("L = 50", quality=_q(40, 0.020)),
            run("L = 100", quality=_q(50, 0.030)))
    assert C.lower_fid(f, POLICY, better="L = 10", worse=["L = 50", "L = 100"]).status == "supported"
    assert C.lower_fid(f, POLICY, better="L = 50", worse=["L = 10", "L = 100"]).status == "contradicted"
    assert C.fid_ranking(f, POLICY, labels=["L = 10", "L = 50", "L = 100"]).status == "supported"
    assert C.fid_ranking(f, POLICY, labels=["L = 10", "L = 100", "L = 50"]).status == "contradicted"


@pytest.mark.parametrize("kid_other, kid_std, expected", [
    (0.0202, 0.0001, "supported"),  # 1 % apart, noise small: within 10 %
    (0.0300, 0.0001, "contradicted"),  # 50 % apart beyond the noise
    (0.0202, 0.002, "inconclusive"),  # too noisy to show equivalence within 10 %
])
def test_similar_quality(kid_other, kid_std, expected):
    f = fig(run("p = 2", quality=_q(40, 0.020, kid_std)), run("p = 5", quality=_q(41, kid_other, kid_std)))
    assert C.similar_quality(f, POLICY, reference="p = 2", others=["p = 5"], rel_tol=0.1).status == expected


def test_loss_order_against_several_runs():
    f = fig(run("p = 2", 1.0, 1.0), run("p = 5", 2.0, 1.0, seed=1), run("p = 7", 3.0, 1.0, seed=2))
    assert C.loss_order(f, POLICY, first="p = 2", second=["p = 5", "p = 7"], g_loss="<").status == "supported"
    f = fig(run("p = 2", 1.0, 1.0), run("p = 5", 2.0, 1.0, seed=1), run("p = 7", 0.5, 1.0, seed=2))
    assert C.loss_order(f, POLICY, first="p = 2", second=["p = 5", "p = 7"], g_loss="<").status == "contradicted"


def _timed(label, wall, loss):
    log = pd.DataFrame({"step": np.arange(1, len(wall) + 1), "wall_seconds": wall, "loss": loss})
    return C.RunResult(label, label, Path("/nonexistent"), summary={"dataset": "celeba", "iterations": 4000}, log=log)


def test_lower_loss_at_equal_time_compares_over_the_common_time_span():
    t_sing, t_adam = np.linspace(0, 5, 50), np.linspace(0, 10, 200)
    sing = _timed("sing, celeba", t_sing, 0.5 + np.exp(-t_sing) + 0.001 * np.sin(7 * t_sing))
    adam = _timed("adam, celeba", t_adam, np.where(t_adam <= 5, 1.0, 0.1) + 0.001 * np.sin(7 * t_adam))
    f = fig(sing, adam)
    v = C.lower_loss_at_equal_time(f, POLICY, better="sing, celeba", worse=["adam, celeba"])
    assert v.status == "supported" and v.numbers["horizon_s"] == pytest.approx(5.0)  # adam's later 0.1 is not counted
    assert C.lower_loss_at_equal_time(f, POLICY, better="adam, celeba", worse=["sing, celeba"]).status == "contradicted"


def test_not_decidable_is_never_downgraded_nor_counted_as_evidence():
    spec = C.ClaimsSpec(POLICY, [C.Claim("c", "more blurry", "Fig. 5", "figX", "not_decidable", {"reason": "visual"})])
    (res,) = C.evaluate_claims(spec, {"figX": fig(run("a", iterations=12, standin=True))})
    assert (res["status"], res["raw_status"], res["evidence"], res["caveats"]) == ("not-decidable", "not-decidable", "visual", [])


def test_policy_qualifies_standin_verdicts_and_uses_the_claims_own_iteration_count():
    qualify = C.Policy(standin_data="qualify", min_iterations=100, tail=0.25, z=2.0)
    claim = C.Claim("c", "lower G", "Fig. X", "figX", "loss_order", {"first": "a", "second": "b", "g_loss": "<"})
    standin = {"figX": fig(run("a", 1.0, 1.0, standin=True), run("b", 2.0, 1.0, seed=1, standin=True))}
    (res,) = C.evaluate_claims(C.ClaimsSpec(qualify, [claim]), standin)
    assert res["status"] == "supported" and res["qualifier"] == "on stand-in data (photos-standin for cats)"
    assert res["evidence"].startswith("supported on stand-in data")
    # the claim's own requirement overrides the policy default: 400-iteration runs cannot decide a
    # 1e6 claim about the end of training
    long = C.Claim(**{**claim.__dict__, "evidence": {"min_iterations": 1_000_000, "needs_paper_length": True}})
    (res,) = C.evaluate_claims(C.ClaimsSpec(qualify, [long]), standin)
    assert (res["status"], res["raw_status"], res["qualifier"]) == ("inconclusive", "supported", None)
    assert "400 generator iterations < 1000000" in res["evidence"] and res["min_iterations"] == 1_000_000


@pytest.mark.parametrize("evidence, message", [
    ({"min_iterations": -1}, r"evidence\.min_iterations: -1 must be an integer >= 0"),
    ({"min_iterations": 10, "when": "x"}, r"evidence: unknown key"),
    ({"needs_paper_length": "yes"}, r"evidence\.needs_paper_length: 'yes' must be true or false"),
    ({"needs": ""}, r"evidence\.needs must be a non-empty string"),
])
def test_load_claims_rejects_bad_evidence(tmp_path, evidence, message):
    c = {"id": "a", "claim": "x", "where": "y", "figure": "fig10", "rule": "lower_fid",
         "args": {"better": "a", "worse": "b"}, "evidence": evidence}
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump({"claims": [c]}))
    with pytest.raises(C.ClaimSpecError, match=message):
        C.load_claims(path)


def test_sing_evidence_one_run_per_optimizer_and_dataset(tmp_path):
    spec = {"experiments": {"encoder": {"figure": "sing72", "datasets": ["celeba", "cifar10"],
                                        "optimizers": ["sing", "adam"]},
                            "l2": {"figure": "sing71", "datasets": ["celeba"], "optimizers": ["sing", "adam"]}}}
    d = tmp_path / "sing" / "encoder"
    d.mkdir(parents=True)
    rows = ["step,wall_seconds,loss,cg_residual,cosine,optimizer,dataset,d_loss"]
    for opt, ds, loss in (("sing", "celeba.photos-standin", 0.1), ("adam", "celeba.photos-standin", 0.9),
                          ("sing", "cifar10.photos-standin", 0.2), ("adam", "cifar10.photos-standin", 0.8)):
        rows += [f"{k},{0.1 * k},{loss + 0.001 * (-1) ** k},,,{opt},{ds}," for k in range(1, 21)]
    (d / "log.csv").write_text("\n".join(rows) + "\n")
    (d / "summary.json").write_text('{"dataset": "photos-standin", "dataset_is_standin": true, '
                                    '"stands_in_for": "celeba, cifar10", "iterations": 20}')
    figs = C.sing_figure_evidence(tmp_path, spec)
    assert figs["sing72"].labels == ["sing, celeba", "adam, celeba", "sing, cifar10", "adam, cifar10"]
    assert len(figs["sing72"].run("adam, cifar10").log) == 20
    v = C.lower_loss_at_equal_time(figs["sing72"], POLICY, better="sing, cifar10", worse=["adam, cifar10"])
    assert v.status == "supported"
    claims = [C.Claim("e", "x", "7.2", "sing72", "lower_loss_at_equal_time", {"better": "sing, celeba", "worse": ["adam, celeba"]}),
              C.Claim("l", "x", "7.1", "sing71", "lower_loss_at_equal_time", {"better": "sing, celeba", "worse": ["adam, celeba"]}),
              C.Claim("g", "x", "7.3", "sing73", "lower_loss_at_equal_time", {"better": "sing, celeba", "worse": ["adam, celeba"]})]
    res = C.evaluate_claims(C.ClaimsSpec(C.Policy(standin_data="qualify", min_iterations=10), claims), figs)
    assert res[0]["status"] == "supported" and res[0]["qualifier"].startswith("on stand-in data")
    assert res[1]["status"] == "inconclusive" and "missing" in res[1]["evidence"]  # l2 did not run
    assert res[2]["status"] == "inconclusive" and "missing" in res[2]["evidence"]  # no evidence given at all
