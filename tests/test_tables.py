"""Tables 2 and 3 (sinkgan.tables) rendered from the model code."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sinkgan import models, tables
from sinkgan.config import ConfigError

REPO = Path(__file__).resolve().parents[1]
SMALL = {"ngf": 4, "ndf": 4, "z_dim": 8, "critic_dim": 5}


def _totals(tex: str) -> list[int]:
    return [int(m.replace(",", "")) for m in re.findall(r"Total \((?:generator|discriminator)\)\} & ([\d,]+)", tex)]


def _body_rows(tex: str) -> list[str]:
    return [line for line in tex.splitlines() if line.startswith(r"\raggedright ")]


@pytest.mark.parametrize("arch, channels", [("dcgan", 1), ("resnet", 3)])
def test_table_matches_model_parameters(arch, channels):
    tex = tables.architecture_table_tex(arch, channels, SMALL, commit="abc")
    gen = models.build_generator(arch, channels, z_dim=SMALL["z_dim"], ngf=SMALL["ngf"])
    disc = models.build_discriminator(arch, channels, ndf=SMALL["ndf"], critic_dim=SMALL["critic_dim"])
    n_params = [sum(p.numel() for p in m.parameters()) for m in (gen, disc)]
    assert _totals(tex) == n_params
    n_rows = len(models.layer_table(gen, (SMALL["z_dim"],))) + len(models.layer_table(disc, (channels, 32, 32)))
    assert len(_body_rows(tex)) == n_rows
    assert tex.count(r"\begin{tabular}") == 1 and tex.rstrip().endswith(r"\end{tabular}")
    assert rf"input ${channels} \times 32 \times 32$" in tex
    assert "code abc" in tex and r"\toprule" in tex and r"\bottomrule" in tex
    # every body row has exactly three cells
    assert all(row.count("&") == 2 for row in _body_rows(tex))


def test_table_is_deterministic_and_escapes_latex():
    a = tables.architecture_table_tex("dcgan", 1, SMALL, commit="c_1")
    b = tables.architecture_table_tex("dcgan", 1, SMALL, commit="c_1")
    assert a == b
    body = "\n".join(line for line in a.splitlines() if not line.startswith("%"))
    assert "->" not in body and r"$\rightarrow$" in body
    assert r"c\_1" in body and "z\\_dim" in body
    plain = tables.architecture_table_tex("dcgan", 1, SMALL, commit="c", booktabs=False)
    assert r"\toprule" not in plain and r"\hline" in plain


def test_table_rejects_bad_arguments():
    with pytest.raises(ValueError, match="arch"):
        tables.architecture_table_tex("vgg", 3, SMALL, commit="c")
    with pytest.raises(ValueError, match="channels"):
        tables.architecture_table_tex("dcgan", 0, SMALL, commit="c")
    with pytest.raises(ConfigError, match="ngf"):
        tables.architecture_table_tex("dcgan", 1, {**SMALL, "ngf": 0}, commit="c")


def test_network_kwargs_defaults_are_the_papers():
    kw = tables.network_kwargs(None)
    assert (kw["ngf"], kw["ndf"], kw["z_dim"]) == (64, 64, 100)
    assert tables.network_kwargs({"ngf": 8})["ngf"] == 8


def test_cli_writes_table2(tmp_path):
    out = tmp_path / "figures" / "table2.tex"
    proc = subprocess.run([sys.executable, "-m", "sinkgan.tables", "table2", "--out", str(out)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    tex = out.read_text()
    assert "DCGAN (MNIST 32x32x1)" in tex
    gen = models.build_generator("dcgan", 1)  # the paper's widths (TrainConfig defaults)
    assert _totals(tex)[0] == sum(p.numel() for p in gen.parameters())


@pytest.mark.parametrize("table, totals", [("table2", [1_066_880, 1_065_984]), ("table3", [327_619, 271_204])])
def test_tables_show_the_authors_parameter_totals(tmp_path, table, totals):
    """Tables 2 and 3 as the study renders them (the paper's widths) end each network with its
    total, equal to the authors' networks' counts (G, D) recorded in docs/paper-map.md."""
    out = tmp_path / f"{table}.tex"
    assert tables.main([table, "--out", str(out)]) == 0
    assert _totals(out.read_text()) == totals


def test_cli_unknown_table_is_an_error(capsys):
    assert tables.main(["table9"]) == 2
    assert "table9" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_table_compiles_with_pdflatex(tmp_path):
    (tmp_path / "t.tex").write_text(tables.architecture_table_tex("resnet", 3, SMALL, commit="c_1"))
    (tmp_path / "doc.tex").write_text("\\documentclass{article}\\usepackage{booktabs}\\begin{document}"
                                      "\\input{t.tex}\\end{document}\n")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 0


@pytest.mark.parametrize("table", ["table2", "table3"])
def test_committed_table_is_what_the_model_code_writes(table, tmp_path):
    """figures/table2.tex and table3.tex are rebuilt by content, not by time (code/rules/common.smk):
    a committed table must equal what the current model code writes."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / f"{table}.tex"
    subprocess.run([sys.executable, "-m", "sinkgan", "table", table, "--out", str(out)], check=True, cwd=root)
    def body(text: str) -> str:  # the code version written into the table is the commit that wrote it
        return re.sub(r"code [0-9a-f]{7,40}(\+dirty)?|code unknown", "code <commit>", text)

    assert body(out.read_text()) == body((root / "figures" / f"{table}.tex").read_text()), \
        f"figures/{table}.tex is stale: snakemake figures/{table}.tex --cores 1 --forcerun table"
