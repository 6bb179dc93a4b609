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
