"""What a paper artifact carries: a license, a citation of both papers and of itself."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_license_is_mit():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Permission is hereby granted, free of charge" in text


def test_citation_cites_the_artifact_and_both_papers():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software" and cff["license"] == "MIT"
    assert cff["authors"] and cff["title"]
    titles = {r["title"] for r in cff["references"]}
    assert {"Sinkhorn divergence GANs trained with sequential SGDA", "Sinkhorn Natural Gradient for Generative Models"} <= titles
    from sinkgan import __version__

    assert str(cff["version"]) == __version__
