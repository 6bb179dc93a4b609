"""A job log that keeps every sitting of a resumed run.

Snakemake empties a rule's ``log:`` file when the job starts, so a run trained in several sittings
(a time limit, a preemption, a stop and a resume) would keep only its last sitting's lines there.
``sinkgan train-study`` therefore also appends everything it prints while training to the run's
own ``train.log`` (``results/<scale>/<run>/train.log``), under one header line per sitting.  A
progress bar is the exception: it goes to the terminal only (:func:`unlogged`).
"""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path


class _Tee:
    """A text stream that writes to ``stream`` and to the open file ``copy``."""

    def __init__(self, stream, copy):
        self._stream, self._copy = stream, copy

    def write(self, text: str) -> int:
        self._stream.write(text)
        self._copy.write(text)
        return len(text)

    def flush(self) -> None:
        self._stream.flush()
        self._copy.flush()

    def __getattr__(self, name):  # isatty, fileno, encoding, ...: the stream's
        return getattr(self._stream, name)


@contextlib.contextmanager
def appended_to(path: str | Path, header: str):
    """Inside the block, ``sys.stdout`` and ``sys.stderr`` also go to ``path`` (opened for appending,
    line-buffered, so a killed job loses at most its last partial line), after ``header``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", buffering=1, encoding="utf-8") as copy:
        copy.write(f"{header}\n")
        out, err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Tee(out, copy), _Tee(err, copy)
        try:
            yield
        finally:
            sys.stdout, sys.stderr = out, err


def unlogged(stream):
    """The terminal behind ``stream`` when :func:`appended_to` copies it to a file, else ``stream``:
    where a progress bar's carriage-return redraws go, so that the log keeps lines only."""
    return stream._stream if isinstance(stream, _Tee) else stream
