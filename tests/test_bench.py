"""sinkgan bench: every implementation of the S_eps table is a row, timed or saying why not."""
import sys

import torch

from sinkgan import bench


def test_a_reference_library_missing_here_is_a_row_that_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "geomloss", None)  # `import geomloss` now raises ImportError
    rows = bench.divergence_rows(torch.device("cpu"), (8,), repeats=1, warmup=0)
    by_impl = {r["impl"]: r for r in rows}
    assert by_impl["geomloss"] == {"n": 8, "d": bench.D, "eps": bench.EPS, "n_iter": bench.L, "impl": "geomloss",
                                   "skipped": "geomloss is not installed here"}
    assert by_impl["torch"]["median_s"] > 0 and by_impl["pot"]["median_s"] > 0


def test_the_concurrency_table_counts_the_iterations_of_every_job():
    tiny = dict(batch_size=8, ngf=8, ndf=8, critic_dim=16, n_critic=1)
    rows = bench.concurrency_rows(torch.device("cpu"), jobs=(1, 2), seconds=1.5, setting=tiny, startup_s=12)
    assert [r["jobs"] for r in rows] == [1, 2] and rows[0]["speedup_vs_one_job"] == 1.0
    for r in rows:
        assert r["iterations_per_s"] > 0 and r["per_job_iterations_per_s"] == r["iterations_per_s"] / r["jobs"]
        assert r["late_workers"] == 0 and r["setting"]["batch_size"] == 8


def test_speedup_is_over_the_one_job_row_and_absent_without_one():
    """A speed-up is only relative to a measured one-job row: never 1.0 for want of a baseline."""
    measured = lambda k, rate: {"jobs": k, "iterations_per_s": rate}  # noqa: E731
    rows = bench.with_speedups([measured(1, 2.0), measured(2, 3.0), {"jobs": 4, "skipped": "a worker failed"}])
    assert [r.get("speedup_vs_one_job") for r in rows] == [1.0, 1.5, None] and "skipped" in rows[2]
    failed_one = bench.with_speedups([{"jobs": 1, "skipped": "a worker failed"}, measured(2, 3.0)])
    assert failed_one[1]["speedup_vs_one_job"] is None
    assert bench.with_speedups([measured(2, 3.0), measured(4, 5.0)])[0]["speedup_vs_one_job"] is None


def test_concurrency_must_be_a_list_of_positive_integers(capsys):
    import pytest

    for bad in ("0", "1,x", "-2"):
        with pytest.raises(SystemExit, match="--concurrency .*allowed a comma-separated list of integers >= 1"):
            bench.main(["--concurrency", bad, "--only", "divergence"])
