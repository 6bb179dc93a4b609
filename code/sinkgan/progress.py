"""Progress lines a person can watch in a job's log (``tail -f results/<scale>/logs/...``).

Under the Snakemake DAG no job has a terminal, so instead of a progress bar each long job prints
one line at most every ``every_s`` seconds: what it is doing, how far it is, the rate and the
estimated time left, and any numbers worth watching (the losses)::

    [sinkgan] train mnist-...: 120/500  g_loss 1.42e+03  d_loss 1.3e+03  0.16 it/s  ETA 00:39:30
"""
from __future__ import annotations

import math
import time


class Progress:
    """Rate-limited progress lines for ``total`` units of work called ``unit`` (``it``, ``step``)."""

    def __init__(self, label: str, total: int, unit: str = "it", every_s: float = 30.0, start: int = 0):
        self.label, self.total, self.unit, self.every_s = label, total, unit, every_s
        self.start_done, self.t0 = start, time.perf_counter()
        self.printed = -math.inf

    def update(self, done: int, force: bool = False, **values) -> None:
        """Print the line for ``done`` units if ``every_s`` has passed since the last one (or ``force``)."""
        now = time.perf_counter() - self.t0
        if not force and now - self.printed < self.every_s:
            return
        self.printed = now
        rate = (done - self.start_done) / max(now, 1e-9)
        left = (self.total - done) / rate if rate > 0 else math.inf
        eta = time.strftime("%H:%M:%S", time.gmtime(left)) if math.isfinite(left) and left < 86400 * 365 else "?"
        shown = "".join(f"  {k} {v:.6g}" if isinstance(v, float) else f"  {k} {v}" for k, v in values.items())
        print(f"[sinkgan] {self.label}: {done}/{self.total}{shown}  {rate:.3g} {self.unit}/s  ETA {eta}", flush=True)
