"""The config schema refuses malformed input before any compute, naming the field and its range."""
import math
import subprocess
import sys

import pytest
import yaml

from sinkgan.config import DATASET_IDS, ConfigError, TrainConfig, load_config, validate
from sinkgan.data import DATASETS

BAD = [
    # (overrides, words the message must contain)
    ({"eps": 0}, ["eps", "(0, inf)"]),
    ({"eps": -1.0}, ["eps", "(0, inf)"]),
    ({"p": 0}, ["p", "(0, inf)"]),
    ({"p": -2.0}, ["p", "(0, inf)"]),
    ({"n_iter": 0}, ["n_iter", "[1, 100000]"]),
    ({"batch_size": 1}, ["batch_size", "[2, 100000]"]),
    ({"n_critic": 0}, ["n_critic", "[1, 1000]"]),
    ({"dataset": "imagenet"}, ["dataset", "mnist", "photos-standin"]),
    ({"arch": "vgg"}, ["arch", "dcgan", "resnet"]),
    ({"variant": "wgan"}, ["variant", "seqsgda", "sgd-autodiff"]),
    ({"lr_g": math.nan}, ["lr_g", "NaN"]),
    ({"lr_d": -1e-4}, ["lr_d", "(0, 1]"]),
    ({"lr_g": 0.0}, ["lr_g", "(0, 1]"]),
    ({"learning_rate": 1e-4}, ["unknown field", "learning_rate"]),
    ({"epss": 1.0}, ["unknown field", "did you mean 'eps'"]),
    ({"eps": "big"}, ["eps", "expected a number"]),
    ({"n_iter": 2.5}, ["n_iter", "expected an integer"]),
    ({"iterations": True}, ["iterations", "expected an integer"]),
    ({"tf32": "yes"}, ["tf32", "true or false"]),
    ({"cost": "cosine"}, ["cost", "euclidean", "lp"]),
    ({"grad": "implicit"}, ["grad", "autodiff", "envelope"]),
    ({"k_sn": 0}, ["k_sn", "(0, inf)"]),
    ({"adam_betas": [0.5, 1.0]}, ["adam_betas", "[0, 1)"]),
    ({"adam_betas": [0.5]}, ["adam_betas"]),
    ({"variant": "simsgda", "n_critic": 10}, ["n_critic", "simsgda"]),
    ({"max_images": 10, "batch_size": 100}, ["max_images", "batch_size"]),
    ({"device": "tpu"}, ["device", "cpu", "cuda"]),
]


@pytest.mark.parametrize("overrides,words", BAD, ids=[next(iter(o)) + "=" + repr(o[next(iter(o))]) for o, _ in BAD])
def test_malformed_field_is_refused_with_field_and_range(overrides, words):
    with pytest.raises(ConfigError) as err:
        validate(TrainConfig, overrides)
    for word in words:
        assert word in str(err.value), (word, str(err.value))


def test_defaults_are_the_papers_hyperparameters():
    cfg = validate(TrainConfig, {})
    # (27): p = 2, eps = 1.0, L = 10, alpha = 1e-4, m = 100; n_critic = 10; Adam; z_dim 100; critic_dim 100
    assert (cfg.p, cfg.eps, cfg.n_iter, cfg.lr_g, cfg.lr_d, cfg.batch_size) == (2.0, 1.0, 10, 1e-4, 1e-4, 100)
    assert (cfg.n_critic, cfg.optimizer, cfg.z_dim, cfg.critic_dim, cfg.k_sn) == (10, "adam", 100, 100, 1.0)


def test_schema_and_data_registry_agree():
    assert set(DATASET_IDS) == set(DATASETS)


def test_missing_data_directory_is_refused_with_instructions(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(None, ["dataset=celeba", f"data_root={tmp_path / 'nowhere'}"])
    msg = str(err.value)
    assert "dataset" in msg and "nowhere" in msg and "celeba" in msg.lower()


def test_missing_config_file_and_non_mapping(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.yaml")
    bad = tmp_path / "list.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(bad)


def test_override_parsing_and_round_trip(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"dataset": "digits", "eps": 0.5}))
    cfg = load_config(path, ["p=2.15", "n_critic=5", "adam_betas=[0.0, 0.9]"])
    assert (cfg.eps, cfg.p, cfg.n_critic, cfg.adam_betas) == (0.5, 2.15, 5, [0.0, 0.9])
    again = validate(TrainConfig, cfg.to_dict())
    assert again == cfg


def test_cli_refuses_before_any_compute(tmp_path):
    """The command line exits 2 with the message and writes no run directory."""
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "sinkgan.cli", "train", "-", "--out", str(out)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    cfg = tmp_path / "c.yaml"
    cfg.write_text("dataset: digits\neps: -3\n")
    proc = subprocess.run([sys.executable, "-m", "sinkgan.cli", "train", str(cfg), "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 2 and "eps" in proc.stderr and "(0, inf)" in proc.stderr
    assert not out.exists()
