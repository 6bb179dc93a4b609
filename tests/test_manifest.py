"""results/<scale>/MANIFEST (sinkgan.manifest): one line per run of a scale, finished or not, read
from the runs' own summaries; and the device provenance each summary records (GPU-seconds, the CPU model)."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from sinkgan.manifest import (COLUMNS, format_manifest, manifest_rows, results_table_md, seconds_per_iteration,
                              tail_mean_losses, write_manifest)
from sinkgan.provenance import GPU_JOBS_ENV, device_time
from sinkgan.study import Study

ROOT = Path(__file__).resolve().parents[1]


def _study_tree(tmp_path: Path, scale: str = "small") -> Study:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    return Study.load(scale, root=tmp_path)


def _finish(spec, **extra) -> dict:
    summary = {"iterations": spec.config.iterations, "commit": "abc1234", "device": "NVIDIA H100 80GB HBM3",
               "wall_seconds": 812.5, "gpu_seconds": 812.5, "data_sha256": "f" * 64, **extra}
    spec.run_dir.mkdir(parents=True)
    (spec.run_dir / "summary.json").write_text(json.dumps(summary))
    return summary


def test_every_run_of_the_scale_has_a_line_finished_or_not(tmp_path):
    study = _study_tree(tmp_path)
    runs = list(study.runs().values())
    _finish(runs[1])
    rows = manifest_rows(study)
    assert [r["run_id"] for r in rows] == [*study.runs(), "sing/l2", "sing/encoder", "sing/gan"]
    done = rows[1]
    assert done["finished"] == "yes" and done["iterations"] == f"{runs[1].config.iterations}/{runs[1].config.iterations}"
    assert (done["commit"], done["device"], done["gpu_seconds"]) == ("abc1234", "NVIDIA H100 80GB HBM3", 812.5)
    assert all(r["finished"] == "no" and r["commit"] is not None for r in rows[:1] + rows[2:])
    assert rows[0]["iterations"] == f"-/{runs[0].config.iterations}"


def test_the_file_is_a_tab_separated_table_that_round_trips(tmp_path):
    study = _study_tree(tmp_path)
    _finish(next(iter(study.runs().values())), device="cpu (x86_64, 2 cores, 2 threads)", gpu_seconds=None)
    path, _ = write_manifest(study)
    assert path == tmp_path / "results" / "small" / "MANIFEST"
    lines = [line.split("\t") for line in path.read_text().splitlines()]
    assert tuple(lines[0]) == COLUMNS and all(len(line) == len(COLUMNS) for line in lines)
    first = dict(zip(COLUMNS, lines[1]))
    assert first["device"] == "cpu (x86_64, 2 cores, 2 threads)" and first["gpu_seconds"] == "-"
    assert first["wall_seconds"] == "812.5"
    assert format_manifest(manifest_rows(study)) == path.read_text()


def test_a_scale_without_sing_lists_its_training_runs_only(tmp_path):
    study = _study_tree(tmp_path, "cpu")
    assert [r["run_id"] for r in manifest_rows(study)] == list(study.runs())


def test_the_command_writes_the_manifest(tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    proc = subprocess.run([sys.executable, "-m", "sinkgan", "study", "manifest", "--scale", "cpu"], cwd=tmp_path,
                          capture_output=True, text=True, env={"SINKGAN_ROOT": str(tmp_path), "PATH": "/usr/bin:/bin",
                                                               "PYTHONPATH": str(ROOT / "code")})
    assert proc.returncode == 0, proc.stderr
    assert "0 of 4 runs finished" in proc.stderr
    assert (tmp_path / "results" / "cpu" / "MANIFEST").read_text() == proc.stdout


def test_a_gpu_run_records_its_gpu_seconds_and_how_many_jobs_shared_the_gpu(monkeypatch):
    monkeypatch.setenv(GPU_JOBS_ENV, "4")
    gpu = device_time(torch.device("cuda"), 100.5)
    assert gpu["gpu_seconds"] == 100.5 and gpu["gpu_jobs_sharing"] == 4
    assert gpu["cuda"] == torch.version.cuda
    cpu = device_time(torch.device("cpu"), 100.5)
    assert cpu == {"cuda": None, "driver": None, "gpu_seconds": None, "gpu_jobs_sharing": None}


def test_a_cpu_run_names_its_cpu_model(tmp_path, monkeypatch):
    from sinkgan import provenance
    from sinkgan.verify import _threads_from_device

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD  EPYC 9654 96-Core Processor\n"
                       "processor\t: 1\nmodel name\t: AMD  EPYC 9654 96-Core Processor\n")
    assert provenance.cpu_model(str(cpuinfo)) == "AMD EPYC 9654 96-Core Processor"
    (tmp_path / "nomodel").write_text("processor\t: 0\nvendor_id\t: GenuineIntel\n")
    monkeypatch.setattr(provenance.platform, "processor", lambda: provenance.platform.machine())
    assert provenance.cpu_model(str(tmp_path / "nomodel")) is None

    monkeypatch.setattr(provenance, "cpu_model", lambda: "Test CPU 9000")
    name = provenance.device_name("cpu")
    assert name.startswith("cpu (Test CPU 9000, ") and name.endswith(f"{torch.get_num_threads()} threads)"), name
    assert _threads_from_device(name) == torch.get_num_threads()
    assert provenance.provenance()["cpu_model"] == "Test CPU 9000"
    monkeypatch.setattr(provenance, "cpu_model", lambda: None)
    assert provenance.device_name("cpu").startswith(f"cpu ({provenance.platform.machine()}, ")


def test_a_run_resumed_under_other_code_names_each_commit(tmp_path):
    study = _study_tree(tmp_path)
    first, second = list(study.runs().values())[:2]
    sitting = {"device": "cpu", "host": "h", "from_iteration": 0, "to_iteration": 1, "wall_seconds": 1.0}
    _finish(first, commit="bbb", sittings=[{**sitting, "commit": None}, {**sitting, "commit": "aaa"},
                                           {**sitting, "commit": "aaa"}, {**sitting, "commit": "bbb"}])
    _finish(second, commit="aaa", sittings=[{**sitting, "commit": "aaa"}, {**sitting, "commit": "aaa"}])
    rows = manifest_rows(study)
    assert rows[0]["commit"] == "?+aaa+bbb"
    assert rows[1]["commit"] == "aaa"


def _log(path: Path, rows) -> None:
    lines = ["iteration,gen_updates,critic_updates,g_loss,d_loss,wall_seconds"]
    lines += [f"{i},{i},{10 * i},{g},{d},{t}" for i, g, d, t in rows]
    path.write_text("\n".join(lines) + "\n")


def test_the_rate_is_the_median_iteration_not_wall_time_over_iterations(tmp_path):
    """Two sittings (the clock restarts at the resume), one 1,000 s pause, rows every 2 iterations at
    2 s an iteration: the median is 2 s, where wall time over iterations would give far more."""
    times = [4.0 * k for k in range(1, 6)] + [20.0 + 1000 + 4.0 * k for k in range(1, 4)]  # a pause after row 5
    times += [4.0 * k for k in range(1, 6)]  # the second sitting's clock
    rows = [(2 * (k + 1), 1.0, 1.0, t) for k, t in enumerate(times)]
    _log(tmp_path / "log.csv", rows)
    assert seconds_per_iteration(tmp_path / "log.csv") == 2.0
    assert seconds_per_iteration(tmp_path / "absent.csv") is None


def test_the_loss_level_is_the_mean_of_the_last_rows(tmp_path):
    _log(tmp_path / "log.csv", [(i, 100.0 * i, -float(i), float(i)) for i in range(1, 11)])
    assert tail_mean_losses(tmp_path / "log.csv", tail=4) == (850.0, -8.5)


def test_the_readme_table_reads_each_run_from_its_files(tmp_path):
    study = _study_tree(tmp_path)
    runs = study.runs()
    original, twin = next(iter(study.twins().items()))[::-1]
    spec = runs[original]
    _finish(spec, wall_seconds=7200.0)
    _log(spec.run_dir / "log.csv", [(i, 3.0, 1.0, 5.0 * i) for i in range(1, 401)])
    (spec.run_dir / "quality.json").write_text(json.dumps({"fid": 123.456, "kid_mean": 0.1234, "kid_std": 0.0021,
                                                           "n_samples": 10000, "n_real": 5000, "iterations": 2000}))
    _finish(runs[twin], copied_from=original)
    table = results_table_md(study)
    line = {row.split(" | ")[0].strip("| `"): row for row in table.splitlines() if row.startswith("| `")}
    cells = [c.strip() for c in line[original].strip("|").split("|")]
    assert cells[2:] == [f"{spec.config.iterations}/{spec.config.iterations} iterations, commit abc1234",
                         "NVIDIA H100 80GB HBM3", "120", "5.00", "3 / 1",
                         "123.5 / 0.123 ± 0.002 (10,000 samples vs 5,000 real, iteration 2000)"]
    assert f"copy of `{original}`" in line[twin]
    untrained = next(r for r in runs if r not in (original, twin))
    assert "not trained" in line[untrained]
    assert table.rstrip().endswith(f"2 of {len(runs) + 3} runs finished.")
