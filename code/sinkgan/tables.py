r"""Tables 2 and 3 of the paper (network architectures) generated from the model code.

``architecture_table_tex(arch, channels, cfg_like)`` builds the generator and the
discriminator with :func:`sinkgan.models.build_generator` / ``build_discriminator``, lists
their layers with :func:`sinkgan.models.layer_table` (layer, output shape, trainable
parameters, found by a forward pass) and renders both as one LaTeX ``tabular`` with a
per-network total ``sum_l params_l`` (equal to ``sum(p.numel() for p in model.parameters())``).

The table uses booktabs rules (``\toprule``, ``\midrule``, ``\bottomrule``): the document needs
``\usepackage{booktabs}``. Pass ``booktabs=False`` for plain ``\hline`` rules.

Command line (reads the ``tables:`` section of ``config/study.yaml``)::

    python -m sinkgan.tables table2 --out figures/table2.tex
    python -m sinkgan.tables table3 --out figures/table3.tex

The output is deterministic for a given code version (the commit is written into the table's
header comment and its last row) and written atomically.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from .atomic import atomic_write_text
from .provenance import repo_root

__all__ = ["NETWORK_FIELDS", "architecture_table_tex", "latex_escape", "main", "network_kwargs", "rows_tex"]

#: Fields of a config (``TrainConfig`` or a mapping) that shape the networks.
NETWORK_FIELDS = ("z_dim", "ngf", "ndf", "critic_dim", "k_sn")

#: Row terminator: ``\tabularnewline`` (unlike ``\\``, it survives ``\raggedright`` in a p-column
#: without the array package).
ROW_END = r"\tabularnewline"

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX special characters; ``->`` becomes ``$\\rightarrow$``."""
    out = "".join(_LATEX_SPECIALS.get(c, c) for c in str(text))
    return out.replace("->", r"$\rightarrow$")


def network_kwargs(cfg_like: Any = None) -> dict:
    """``z_dim, ngf, ndf, critic_dim, k_sn`` from ``cfg_like`` (a ``TrainConfig``, any object
    with those attributes, a mapping, or ``None``); missing fields take the ``TrainConfig``
    defaults (the paper's: z_dim 100, ngf = ndf = 64, critic_dim 100, k_SN 1)."""
    from sinkgan.config import TrainConfig, validate

    defaults = TrainConfig()
    values = {}
    for name in NETWORK_FIELDS:
        if isinstance(cfg_like, Mapping):
            value = cfg_like.get(name, getattr(defaults, name))
        else:
            value = getattr(cfg_like, name, getattr(defaults, name))
        values[name] = value
    # range/type checks with the config's own field metadata (clear error naming the field)
    base = {f: getattr(defaults, f) for f in defaults.__dataclass_fields__}
    checked = validate(TrainConfig, {**base, **values})
    return {name: getattr(checked, name) for name in NETWORK_FIELDS}


def _shape_tex(shape: Sequence[int]) -> str:
    return "$" + r" \times ".join(str(int(s)) for s in shape) + "$"


def rows_tex(rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], int]:
    """LaTeX rows ``layer & output shape & params`` for ``layer_table`` rows, and the total."""
    lines, total = [], 0
    for row in rows:
        params = int(row["params"])
        total += params
        lines.append(f"\\raggedright {latex_escape(row['layer'])} & {_shape_tex(row['output_shape'])} & {params:,} {ROW_END}")
    return lines, total


def architecture_table_tex(arch: str, channels: int, cfg_like: Any = None, *, title: str | None = None,
                           booktabs: bool = True, commit: str | None = None) -> str:
    r"""The generator and discriminator of ``arch`` for ``channels``-channel 32x32 images as a
    LaTeX ``tabular`` (columns: layer, output shape without the batch dimension, trainable
    parameters), each network followed by its total.

    ``cfg_like`` supplies the widths (see :func:`network_kwargs`). The discriminator is the
    paper's, with spectral normalisation. ``commit`` (default: the current git commit) is
    written into a header comment and the last row, stating the code version.
    """
    from sinkgan import models

    if arch not in models.ARCHS:
        raise ValueError(f"arch={arch!r} must be one of {models.ARCHS}")
    if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
        raise ValueError(f"channels={channels!r} must be a positive integer")
    kw = network_kwargs(cfg_like)
    gen = models.build_generator(arch, channels, z_dim=kw["z_dim"], ngf=kw["ngf"])
    disc = models.build_discriminator(arch, channels, ndf=kw["ndf"], critic_dim=kw["critic_dim"], k_sn=kw["k_sn"])
    if commit is None:
        from sinkgan.provenance import git_commit

        commit = git_commit()
    top, mid, bottom = (r"\toprule", r"\midrule", r"\bottomrule") if booktabs else (r"\hline", r"\hline", r"\hline")
    settings = ", ".join(f"{k} = {v}" for k, v in kw.items())
    heading = title or f"{arch} ({channels} channel{'s' if channels > 1 else ''})"
    out = [
        f"% {heading}: generated by sinkgan.tables from sinkgan.models (code {commit}); do not edit",
        f"% {settings}",
        r"\begin{tabular}{p{8.5cm}lr}",
        top,
        rf"Layer & Output shape & Parameters {ROW_END}",
    ]
    for name, model, in_shape in (("Generator", gen, (kw["z_dim"],)),
                                  ("Discriminator (spectral normalisation)", disc, (channels, 32, 32))):
        rows = models.layer_table(model, in_shape)
        lines, total = rows_tex(rows)
        expected = sum(p.numel() for p in model.parameters() if p.requires_grad)
        if total != expected:  # layer_table must cover every parameter exactly once
            raise RuntimeError(f"{name}: layer_table rows sum to {total} parameters, model has {expected}")
        out += [mid, rf"\multicolumn{{3}}{{l}}{{\textbf{{{name}}}, input {_shape_tex(in_shape)}}} {ROW_END}", mid]
        out += lines
        out += [mid, rf"\multicolumn{{2}}{{l}}{{Total ({name.split()[0].lower()})}} & {total:,} {ROW_END}"]
    out += [
        mid,
        rf"\multicolumn{{3}}{{l}}{{\footnotesize {latex_escape(settings)}; code {latex_escape(commit)}}} {ROW_END}",
        bottom,
        r"\end{tabular}",
    ]
    return "\n".join(out) + "\n"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``sinkgan table`` to ``parser``."""
    parser.add_argument("table", help="a key of the tables: section of config/study.yaml (table2, table3)")
    parser.add_argument("--out", type=Path, default=None, help="output .tex (default: stdout)")
    parser.add_argument("--study", type=Path, default=None, help="study file (default: <root>/config/study.yaml)")
    parser.add_argument("--no-booktabs", action="store_true", help=r"use \hline instead of booktabs rules")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sinkgan.tables", description=__doc__.split("\n\n")[0])
    configure(parser)
    return run(parser.parse_args(argv))


def _error(message: str) -> int:
    print(f"sinkgan table: error: {message}", file=sys.stderr)
    return 2


def run(args) -> int:
    """Write the table a parsed ``sinkgan table`` command names."""
    study_path = args.study or repo_root() / "config" / "study.yaml"
    study = yaml.safe_load(study_path.read_text())
    tables = study.get("tables") or {}
    if args.table not in tables:
        return _error(f"table {args.table!r} not in the tables: section of {study_path} (have: {sorted(tables)})")
    spec = dict(tables[args.table])
    for key in ("arch", "channels"):
        if key not in spec:
            return _error(f"{study_path}: tables.{args.table} lacks {key!r}")
    cfg_like = {**(study.get("defaults") or {}), **{k: v for k, v in spec.items() if k in NETWORK_FIELDS}}
    tex = architecture_table_tex(spec["arch"], spec["channels"], cfg_like, title=spec.get("title"),
                                 booktabs=not args.no_booktabs)
    if args.out is None:
        sys.stdout.write(tex)
    else:
        atomic_write_text(args.out, tex)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
