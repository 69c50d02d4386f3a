"""Checkpoints a user cannot lose, and cannot be fooled by (issue 11, sections 2 and 3).

- Loading refuses, with one line and exit code 2, any checkpoint that is not exactly what
  trm-demo writes: an entry it never writes (exactly the header and the spec's weights), non-finite or non-float32 weights, malformed header JSON, a zip entry
  declaring more bytes than its spec implies (refused before inflating), too many entries,
  a FIFO or device instead of a file. Nothing is written and no work starts.
- Every run says (stderr) and records (training.json, demo_metrics.json, puzzle eval's JSON)
  the path and SHA-256 of the checkpoint it loaded.
- `pretrain` and `puzzle train` write where --out says (default: the working directory) and
  never replace a shipped checkpoint without --replace-shipped.
- The configured 'trm_demo/checkpoints/...' always means the installed file, not a look-alike
  under the working directory.
- `config` prints the default YAML; config/examples/ ships with the package.
- A checkpoint records what its run decided (epoch, step cap, halt threshold, features): a reload with
  --train-epochs 0 repeats the saving run's figures; one without that record is refused with the command.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
import struct
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import yaml

from test_bad_input import deadline, no_work  # noqa: F401 - no_work is a fixture
from test_cli import TINY_FLAGS, output_flags, run_cli, tiny_config
from trm_demo.funnel import pipeline
from trm_demo import cli
from trm_demo.sudoku import cli as puzzle_cli
from trm_demo.trm import weights
from trm_demo.config import DEFAULT_CONFIG_PATH, load_config
from trm_demo.errors import CheckpointError
from trm_demo.sudoku.train import sudoku_spec
from trm_demo.trm.weights import SHIPPED_DIR, init_model, load_checkpoint, save_checkpoint, weight_shapes

REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_TABULAR = SHIPPED_DIR / "pretrained_trm.npz"
SHIPPED_SUDOKU = SHIPPED_DIR / "sudoku_trm.npz"
TINY_PRETRAIN = "  pretrain_samples: 64\n  pretrain_epochs: 1\n"   # added to test_cli's tiny training section
TINY_PUZZLE_TRAIN = ["--iterations", "2", "--slots", "2", "--train-puzzles", "4", "--test-puzzles", "3", "--quiet"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(directory: Path) -> dict[str, tuple]:
    """Bytes and modification time of every file below `directory` (and every folder's name)."""
    return {str(p.relative_to(directory)): ("dir",) if p.is_dir() else (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if not p.is_fifo()}


# --- building bad checkpoints from the shipped ones ---

def arrays_of(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def tampered(change: Callable[[dict], None]) -> Callable[[Path, Path], None]:
    """A writer: the source checkpoint's arrays, changed in place by `change`, saved to the target."""
    def write(source: Path, target: Path) -> None:
        arrays = arrays_of(source)
        change(arrays)
        with open(target, "wb") as handle:
            np.savez(handle, **arrays)
    return write


def weight_keys(arrays: dict) -> list[str]:
    return [key for key in arrays if "/" in key]


def set_first(key: str, value: float) -> Callable[[dict], None]:
    def change(arrays):
        arrays[key] = arrays[key].copy()
        arrays[key].flat[0] = value
    return change


def all_nan(arrays):
    for key in weight_keys(arrays):
        arrays[key] = np.full_like(arrays[key], np.nan)


def cast(dtype) -> Callable[[dict], None]:
    def change(arrays):
        for key in weight_keys(arrays):
            arrays[key] = arrays[key].astype(dtype)
    return change


def header(name: str, text: str) -> Callable[[dict], None]:
    def change(arrays):
        arrays[name] = np.array(text)
    return change


def json_field(entry: str, field: str, value) -> Callable[[dict], None]:
    """Set one field of a JSON header entry ("spec" or "metadata")."""
    def change(arrays):
        header = json.loads(str(arrays[entry]))
        header[field] = value
        arrays[entry] = np.array(json.dumps(header))
    return change


def spec_field(field: str, value) -> Callable[[dict], None]:
    return json_field("spec", field, value)


def metadata_field(field: str, value) -> Callable[[dict], None]:
    return json_field("metadata", field, value)


def without_metadata(*fields: str) -> Callable[[dict], None]:
    def change(arrays):
        header = json.loads(str(arrays["metadata"]))
        arrays["metadata"] = np.array(json.dumps({k: v for k, v in header.items() if k not in fields}))
    return change


def transposed(key: str) -> Callable[[dict], None]:
    def change(arrays):
        arrays[key] = np.ascontiguousarray(arrays[key].T)
    return change


def zip_bomb(source: Path, target: Path) -> None:
    """A real checkpoint whose central directory claims one entry inflates to ~4 GB."""
    data = bytearray(source.read_bytes())
    name = b"params/head.w.npy"
    at = data.index(b"PK\x01\x02")   # the central directory: one record per entry
    while True:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46:at + 46 + name_length] == name:
            break
        at = data.index(b"PK\x01\x02", at + 4)
    struct.pack_into("<I", data, at + 24, 0xFFFF0000)   # uncompressed size, as declared to infolist
    target.write_bytes(bytes(data))


def many_entries(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    with zipfile.ZipFile(target, "a") as archive:
        for i in range(weights.MAX_MEMBERS):
            archive.writestr(f"extra{i}.npy", b"")


def bzip2_entry(source: Path, target: Path) -> None:
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as forged:
        for info in original.infolist():
            kind = zipfile.ZIP_BZIP2 if info.filename == "params/head.w.npy" else zipfile.ZIP_STORED
            forged.writestr(info.filename, original.read(info), compress_type=kind)


def fifo(source: Path, target: Path) -> None:
    os.mkfifo(target)


BAD = {   # id: (writer, fragments of the one error line)
    "one NaN weight": (tampered(set_first("params/head.w", np.nan)), ("non-finite", "nan", "params/head.w")),
    "one inf weight": (tampered(set_first("ema/halt.b", np.inf)), ("non-finite", "inf", "ema/halt.b")),
    "all weights NaN": (tampered(all_nan), ("non-finite",)),
    "float16 weights": (tampered(cast(np.float16)), ("float16", "expected float32")),
    "float64 weights": (tampered(cast(np.float64)), ("float64", "expected float32")),
    "integer weights": (tampered(cast(np.int32)), ("int32", "expected float32")),
    "object weights": (tampered(cast(object)), ("object", "expected float32")),
    "big-endian weights": (tampered(cast(">f4")), (">f4", "expected float32")),
    "metadata not JSON": (tampered(header("metadata", "{'kind': pretrained")), ("malformed metadata",)),
    "metadata with NaN": (tampered(header("metadata", '{"seed": NaN}')), ("malformed metadata",)),
    "metadata a list": (tampered(header("metadata", "[1, 2]")), ("malformed metadata",)),
    "metadata nested too deep": (tampered(header("metadata", "[" * 100_000)), ("malformed metadata",)),
    "metadata a number array": (tampered(lambda a: a.update(metadata=np.arange(3))), ("metadata", "expected text")),
    "spec not JSON": (tampered(header("spec", "hidden_size=32")), ("malformed model spec",)),
    "spec field of the wrong type": (tampered(spec_field("hidden_size", "32")), ("malformed model spec",
                                                                                 "hidden_size='32'")),
    "spec with an endless loop": (tampered(spec_field("n_cycles", 10**9)), ("malformed model spec", "n_cycles")),
    "spec of a huge model": (tampered(spec_field("n_inputs", 10**9)), ("declares a model", "MiB")),
    "format version 2": (tampered(lambda a: a.update(format_version=np.array(2))), ("format version 2",)),
    "array of the wrong shape": (tampered(transposed("params/head.w")), ("params/head.w", "shape")),
    "array missing": (tampered(lambda a: a.pop("buffers/z_init")), ("buffers arrays", "z_init")),
    "zip bomb": (zip_bomb, ("params/head.w.npy", "4,294,901,760 bytes", "without inflating")),
    "too many entries": (many_entries, ("entries", str(weights.MAX_MEMBERS))),
    "bzip2 entry": (bzip2_entry, ("params/head.w.npy", "compression")),
    "unknown entry": (tampered(lambda a: a.update(zzz=np.zeros(1, np.float32))), ("zzz.npy", "never writes")),
    "unknown weight": (tampered(lambda a: a.update({"params/extra": np.zeros(1, np.float32)})),
                       ("params/extra.npy", "never writes")),
    "written before runs recorded their decisions": (
        tampered(without_metadata("selected", "halt_threshold", "features")),
        ("does not record what its run decided", "step cap", "re-running the command in its metadata",
         "trm-demo pretrain")),
    "trained on other features": (tampered(metadata_field("features", ["asking_salary"])), ("other input features",)),
    "selected step cap not a number": (tampered(metadata_field("selected", {"epoch": 1, "step_cap": "2",
                                                                            "validation_log_loss": 0.5})),
                                       ("malformed metadata", "'selected'")),
    "selected step cap above the config's depth": (
        tampered(metadata_field("selected", {"epoch": 1, "step_cap": 99, "validation_log_loss": 0.5})),
        ("step cap 99", "model.supervision_steps")),
    "FIFO": (fifo, ("not a regular file",)),
    "directory": (lambda source, target: target.mkdir(), ("is a directory",)),
}
# The Sudoku loader shares every check; these also cover its own metadata and the all-NaN "solve".
SUDOKU_BAD = ["one NaN weight", "all weights NaN", "float16 weights", "metadata not JSON", "zip bomb", "FIFO",
              "unknown entry"]
SUDOKU_METADATA = {
    "seed missing": (tampered(metadata_field("seed", None)), ("malformed metadata", "'seed'")),
    "test_puzzles a string": (tampered(metadata_field("config", {"test_puzzles": "500"})), ("'config.test_puzzles'",)),
    "comparisons malformed": (tampered(metadata_field("comparisons", [{"name": 1}])), ("'comparisons'",)),
}


@pytest.fixture
def no_hang():
    """A blocking open (a FIFO with no writer) fails the test instead of hanging it."""
    with deadline(20):
        yield


def assert_refused(run, directory: Path, before: dict, fragments) -> None:
    assert run.code == 2, run.err
    assert "Traceback" not in run.err and "Warning" not in run.err
    assert len(run.err_lines) == 1 and run.err_lines[0].startswith("error: checkpoint '"), run.err
    for fragment in fragments:
        assert fragment in run.err, f"{fragment!r} missing from: {run.err}"
    assert run.out == ""
    assert snapshot(directory) == before, "a file was created, changed or touched"


@pytest.mark.parametrize("case", list(BAD))
def test_run_refuses_a_bad_checkpoint_with_one_line(case, tmp_path, monkeypatch, capsys, no_work, no_hang):
    monkeypatch.chdir(tmp_path)
    write, fragments = BAD[case]
    write(SHIPPED_TABULAR, tmp_path / "bad.npz")
    argv = ["--config", tiny_config(tmp_path), *TINY_FLAGS, *output_flags(tmp_path), "--checkpoint", "bad.npz"]
    before = snapshot(tmp_path)
    assert_refused(run_cli(capsys, argv), tmp_path, before, fragments)


def puzzle_argv(command: str, directory: Path) -> list[str]:
    if command == "eval":
        return ["puzzle", "eval", "--export-json", str(directory / "e.json"), "--report", str(directory / "e.md")]
    return ["puzzle", "solve", ".4....5.6.2....6.14........23...2..."]


@pytest.mark.parametrize("command", ["eval", "solve"])
@pytest.mark.parametrize("case", SUDOKU_BAD + list(SUDOKU_METADATA))
def test_puzzle_commands_refuse_a_bad_checkpoint_with_one_line(case, command, tmp_path, monkeypatch, capsys,
                                                               no_work, no_hang):
    monkeypatch.chdir(tmp_path)
    write, fragments = BAD.get(case) or SUDOKU_METADATA[case]
    write(SHIPPED_SUDOKU, tmp_path / "bad.npz")
    before = snapshot(tmp_path)
    run = run_cli(capsys, [*puzzle_argv(command, tmp_path), "--checkpoint", "bad.npz"])
    assert_refused(run, tmp_path, before, fragments)
    assert "puzzle train" in run.err or "regular file" in run.err   # the fix names the Sudoku command


def test_a_device_is_refused_without_reading_it(tmp_path, monkeypatch, capsys, no_work, no_hang):
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    monkeypatch.chdir(tmp_path)
    argv = ["--config", tiny_config(tmp_path), *TINY_FLAGS, *output_flags(tmp_path), "--checkpoint", "/dev/zero"]
    before = snapshot(tmp_path)
    assert_refused(run_cli(capsys, argv), tmp_path, before, ("not a regular file",))


def test_a_path_that_cannot_be_opened_is_one_checkpoint_error():
    with pytest.raises(CheckpointError, match="cannot be read"):   # e.g. a YAML "\0" in the path
        load_checkpoint("weights\0.npz")


def test_zip_bomb_entry_is_never_opened(tmp_path, monkeypatch):
    zip_bomb(SHIPPED_TABULAR, tmp_path / "bomb.npz")
    opened = []
    original = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open",
                        lambda self, name, *a, **k: opened.append(getattr(name, "filename", name))
                        or original(self, name, *a, **k))
    with pytest.raises(CheckpointError, match="without inflating"):
        load_checkpoint(tmp_path / "bomb.npz")
    assert "params/head.w.npy" not in opened


def test_weight_shapes_match_the_arrays_init_model_builds():
    for spec in (pipeline.model_spec(load_config()), sudoku_spec()):
        model = init_model(spec, np.random.default_rng(0))
        built = {group: {k: v.shape for k, v in getattr(model, group).items()} for group in ("params", "ema", "buffers")}
        assert weight_shapes(spec) == built


def test_a_saved_model_loads_back_identical_with_its_hash(tmp_path):
    spec = pipeline.model_spec(load_config())
    model = init_model(spec, np.random.default_rng(3))
    save_checkpoint(tmp_path / "m.npz", model, {"kind": "test"})
    loaded, metadata = load_checkpoint(tmp_path / "m.npz", expected=spec)
    assert metadata == {"kind": "test"}
    assert loaded.source == {"path": str((tmp_path / "m.npz").resolve()), "sha256": sha256(tmp_path / "m.npz")}
    for group in ("params", "ema", "buffers"):
        for name, value in getattr(model, group).items():
            np.testing.assert_array_equal(getattr(loaded, group)[name], value)
            assert getattr(loaded, group)[name].flags.writeable   # fine-tuning updates them in place


# --- provenance: which checkpoint a run used ---

def tiny_run(directory: Path, *extra: str) -> list[str]:
    return ["--config", tiny_config(directory), *TINY_FLAGS, *output_flags(directory), *extra]


def recorded_checkpoints(directory: Path) -> tuple[dict, dict]:
    training = json.loads((directory / "training.json").read_text(encoding="utf-8"))
    metrics = json.loads((directory / "demo_metrics.json").read_text(encoding="utf-8"))
    return training["checkpoint"], metrics["run"]["checkpoint"]


def test_a_run_prints_and_records_the_checkpoint_path_and_sha256(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run = run_cli(capsys, tiny_run(tmp_path))
    assert run.code == 0, run.err
    expected = {"path": str(SHIPPED_TABULAR), "sha256": sha256(SHIPPED_TABULAR)}
    assert recorded_checkpoints(tmp_path) == (expected, expected)
    assert f"loaded checkpoint {SHIPPED_TABULAR} (sha256 {expected['sha256']})" in run.err_lines
    assert expected["sha256"] not in run.out   # a message, not part of the summary


def test_a_run_from_scratch_records_no_checkpoint(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_cli(capsys, tiny_run(tmp_path, "--from-scratch")).code == 0
    assert recorded_checkpoints(tmp_path) == (None, None)


def test_puzzle_eval_records_and_solve_prints_the_checkpoint_hash(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    digest = sha256(SHIPPED_SUDOKU)
    run = run_cli(capsys, [*puzzle_argv("eval", tmp_path), "--puzzles", "3", "--steps", "1"])
    assert run.code == 0, run.err
    result = json.loads((tmp_path / "e.json").read_text(encoding="utf-8"))
    assert result["checkpoint"] == {"path": str(SHIPPED_SUDOKU), "sha256": digest}
    assert f"loaded checkpoint {SHIPPED_SUDOKU} (sha256 {digest})" in run.err
    run = run_cli(capsys, [*puzzle_argv("solve", tmp_path), "--max-steps", "1"])
    assert run.code == 0 and f"(sha256 {digest})" in run.err


# --- a saved checkpoint reproduces its run ---

def test_a_reload_without_fine_tuning_repeats_the_saving_runs_decisions(tmp_path, monkeypatch, capsys):
    """`--save-checkpoint` then `--checkpoint` with `--train-epochs 0`: the same step cap (the one the saving run's
    validation split selected, not full depth) and the same figures for every strategy."""
    monkeypatch.chdir(tmp_path)
    saving, reloading = tmp_path / "saving", tmp_path / "reloading"
    saving.mkdir(), reloading.mkdir()
    assert run_cli(capsys, tiny_run(saving, "--seed", "11", "--save-checkpoint", saving / "ck.npz")).code == 0
    run = run_cli(capsys, tiny_run(reloading, "--seed", "11", "--checkpoint", saving / "ck.npz", "--train-epochs", "0"))
    assert run.code == 0, run.err
    saved, reloaded = ({name: json.loads((d / name).read_text(encoding="utf-8"))
                        for name in ("training.json", "demo_metrics.json")} for d in (saving, reloading))
    selected = saved["training.json"]["selected"]
    assert selected["step_cap"] < load_config().model.supervision_steps   # full depth would differ from the save
    assert reloaded["demo_metrics.json"]["strategies"] == saved["demo_metrics.json"]["strategies"]
    assert reloaded["training.json"]["selected"] == selected
    _, metadata = load_checkpoint(saving / "ck.npz")
    assert metadata["selected"] == selected and metadata["halt_threshold"] == load_config().simulation.trm_halt_threshold


def test_the_shipped_checkpoint_records_what_its_pretraining_decided():
    _, metadata = load_checkpoint(SHIPPED_TABULAR)
    assert pipeline.recorded_decisions(SHIPPED_TABULAR, metadata, load_config().model.supervision_steps) == {
        "selected": metadata["selected"], "halt_threshold": 1.0}


# --- training never replaces a shipped checkpoint unasked ---

@pytest.fixture
def fake_shipped(tmp_path, monkeypatch) -> Path:
    """A copy of the shipped checkpoints that the code treats as the shipped ones (the real ones stay untouched)."""
    directory = tmp_path / "package_checkpoints"
    shutil.copytree(SHIPPED_DIR, directory)
    monkeypatch.setattr(weights, "SHIPPED_DIR", directory)
    return directory


def pretrain_argv(directory: Path, *extra: str) -> list[str]:
    return ["pretrain", "--config", tiny_config(directory, TINY_PRETRAIN), *extra]


def refused_shipped(run, flag: str) -> None:
    assert run.code == 2, run.err
    assert len(run.err_lines) == 1 and run.err_lines[0].startswith(f"error: {flag} '"), run.err
    assert "shipped" in run.err and "--replace-shipped" in run.err


def test_pretrain_writes_to_the_working_directory_by_default(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    shipped = snapshot(SHIPPED_DIR)
    run = run_cli(capsys, pretrain_argv(tmp_path))
    assert run.code == 0, run.err
    model, metadata = load_checkpoint(tmp_path / cli.DEFAULT_PRETRAIN_OUT)
    assert metadata["kind"] == "pretrained" and not (tmp_path / "trm_demo").exists()
    assert snapshot(SHIPPED_DIR) == shipped


@pytest.mark.parametrize("spelling", ["real path", "symlink"])
def test_pretrain_refuses_the_shipped_checkpoint_without_the_flag(spelling, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(pipeline, "fit", lambda *a, **k: pytest.fail("trained before refusing"))
    target = SHIPPED_TABULAR
    if spelling == "symlink":
        (tmp_path / "alias.npz").symlink_to(SHIPPED_TABULAR)
        target = tmp_path / "alias.npz"
    shipped = snapshot(SHIPPED_DIR)
    refused_shipped(run_cli(capsys, pretrain_argv(tmp_path, "--out", target)), "--out")
    assert snapshot(SHIPPED_DIR) == shipped


def test_pretrain_refuses_a_hard_link_to_a_shipped_checkpoint(tmp_path, monkeypatch, capsys, fake_shipped):
    monkeypatch.chdir(tmp_path)
    os.link(fake_shipped / "pretrained_trm.npz", tmp_path / "linked.npz")
    refused_shipped(run_cli(capsys, pretrain_argv(tmp_path, "--out", "linked.npz")), "--out")


def test_pretrain_replaces_a_shipped_checkpoint_only_with_the_flag(tmp_path, monkeypatch, capsys, fake_shipped):
    monkeypatch.chdir(tmp_path)
    target = fake_shipped / "pretrained_trm.npz"
    before = target.read_bytes()
    refused_shipped(run_cli(capsys, pretrain_argv(tmp_path, "--out", target)), "--out")
    assert target.read_bytes() == before
    run = run_cli(capsys, pretrain_argv(tmp_path, "--out", target, "--replace-shipped"))
    assert run.code == 0, run.err
    assert target.read_bytes() != before and load_checkpoint(target)[1]["kind"] == "pretrained"


def test_fine_tuned_weights_are_not_saved_over_a_shipped_checkpoint(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    shipped = snapshot(SHIPPED_DIR)
    refused_shipped(run_cli(capsys, tiny_run(tmp_path, "--save-checkpoint", SHIPPED_TABULAR)), "--save-checkpoint")
    assert snapshot(SHIPPED_DIR) == shipped


def test_out_belongs_to_pretrain(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run = run_cli(capsys, tiny_run(tmp_path, "--out", "x.npz"))
    assert run.code == 2 and "--save-checkpoint" in run.err and not (tmp_path / "x.npz").exists()


def test_puzzle_train_writes_to_the_working_directory_and_refuses_the_shipped_one(tmp_path, monkeypatch, capsys,
                                                                                  fake_shipped):
    monkeypatch.chdir(tmp_path)
    target = fake_shipped / "sudoku_trm.npz"
    before = target.read_bytes()
    refused_shipped(run_cli(capsys, ["puzzle", "train", *TINY_PUZZLE_TRAIN, "--out", target]), "--out")
    assert target.read_bytes() == before
    assert run_cli(capsys, ["puzzle", "train", *TINY_PUZZLE_TRAIN]).code == 0
    assert load_checkpoint(tmp_path / "sudoku_trm.npz")[1]["kind"] == "sudoku"
    assert run_cli(capsys, ["puzzle", "train", *TINY_PUZZLE_TRAIN, "--out", target, "--replace-shipped"]).code == 0
    assert target.read_bytes() != before


def test_puzzle_train_refuses_the_real_shipped_checkpoint(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(puzzle_cli, "train_sudoku", lambda *a, **k: pytest.fail("trained before refusing"))
    refused_shipped(run_cli(capsys, ["puzzle", "train", *TINY_PUZZLE_TRAIN, "--out", SHIPPED_SUDOKU]), "--out")


# --- the configured default means the installed file ---

def lookalike(directory: Path) -> Path:
    """A valid but different checkpoint where a cwd-relative reading of the default would find it."""
    path = directory / "trm_demo" / "checkpoints" / "pretrained_trm.npz"
    path.parent.mkdir(parents=True)
    cfg = load_config()
    nothing_selected = {"epoch": 0, "step_cap": None, "validation_log_loss": None}
    save_checkpoint(path, init_model(pipeline.model_spec(cfg), np.random.default_rng(1)),
                    pipeline.checkpoint_metadata(cfg, "lookalike", "trm-demo", nothing_selected))
    return path


def test_the_default_checkpoint_ignores_a_lookalike_in_the_working_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    lookalike(tmp_path)
    assert pipeline.checkpoint_path(load_config()) == SHIPPED_TABULAR
    assert run_cli(capsys, tiny_run(tmp_path)).code == 0
    assert recorded_checkpoints(tmp_path)[0]["sha256"] == sha256(SHIPPED_TABULAR)


def test_a_copied_default_config_still_means_the_installed_checkpoint(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    lookalike(tmp_path)
    (tmp_path / "copy.yaml").write_text(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    assert pipeline.checkpoint_path(load_config(tmp_path / "copy.yaml")) == SHIPPED_TABULAR


def test_a_checkpoint_typed_on_the_command_line_is_from_the_working_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = lookalike(tmp_path)
    run = run_cli(capsys, tiny_run(tmp_path, "--checkpoint", "trm_demo/checkpoints/pretrained_trm.npz"))
    assert run.code == 0, run.err
    assert recorded_checkpoints(tmp_path)[0] == {"path": str(path), "sha256": sha256(path)}


# --- the default YAML to copy, and the examples in the package ---

def test_config_command_prints_the_default_yaml_to_copy(tmp_path, capsys):
    run = run_cli(capsys, ["config"])
    assert run.code == 0 and run.err == ""
    # the file as shipped, its "run `python main.py --config my.yaml`" as this process was started (in-process:
    # the installed name)
    assert run.out == DEFAULT_CONFIG_PATH.read_text(encoding="utf-8").replace("`python main.py ", "`trm-demo ")
    (tmp_path / "mine.yaml").write_text(run.out, encoding="utf-8")
    assert load_config(tmp_path / "mine.yaml") == load_config()


def test_config_command_prints_a_shipped_example(capsys):
    run = run_cli(capsys, ["config", "expensive_outreach"])
    assert run.code == 0
    assert yaml.safe_load(run.out) == {"simulation": {"outreach_cost": 45.0}}
    run = run_cli(capsys, ["config", "nope"])
    assert run.code == 2 and "expensive_outreach" in run.err and len(run.err_lines) == 1


def test_every_config_file_ships_with_the_package():
    """pip install puts config/ in trm_demo/defaults/: every YAML under it must match a package-data glob."""
    tomllib = pytest.importorskip("tomllib")   # Python 3.11+; the package supports 3.10
    setuptools = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert setuptools["package-dir"]["trm_demo.defaults"] == "config"
    globs = setuptools["package-data"]["trm_demo.defaults"]
    files = [p.relative_to(REPO_ROOT / "config").as_posix() for p in (REPO_ROOT / "config").rglob("*.yaml")]
    assert "examples/expensive_outreach.yaml" in files
    assert all(any(fnmatch.fnmatch(f, g) and f.count("/") == g.count("/") for g in globs) for f in files)


def test_a_saved_checkpoint_has_exactly_the_entries_the_loader_accepts(tmp_path):
    """The loader's whitelist is what save_checkpoint writes: no more (an extra entry is refused), no less."""
    spec = pipeline.model_spec(load_config())
    save_checkpoint(tmp_path / "m.npz", init_model(spec, np.random.default_rng(0)), {"kind": "test"})
    with zipfile.ZipFile(tmp_path / "m.npz") as archive:
        written = {name.removesuffix(".npy") for name in archive.namelist()}
    expected = {"format_version", "spec", "metadata"} | {f"{group}/{name}" for group, names in
                                                          weight_shapes(spec).items() for name in names}
    assert written == expected
    load_checkpoint(tmp_path / "m.npz", expected=spec)


def test_a_rerun_reuses_the_memoised_fine_tuning_with_identical_outputs_and_rebuilds_a_damaged_memo(tmp_path,
                                                                                                 capsys):
    from trm_demo import memo
    config = tiny_config(tmp_path)

    def outputs(name: str, *extra: str) -> dict:
        (tmp_path / name).mkdir()
        run = run_cli(capsys, ["--config", config, *TINY_FLAGS, *output_flags(tmp_path / name), *extra])
        assert run.code == 0 and "Traceback" not in run.err, run.err
        return {"metrics": without_clocks(json.loads((tmp_path / name / "demo_metrics.json").read_text())),
                # as text: the memo's record keeps its keys in training's order (the same bytes)
                "training": json.dumps(without_clocks(json.loads((tmp_path / name / "training.json").read_text()))),
                "err": run.err}

    first = outputs("first")
    entries = list(memo.CACHE_DIR.glob("fine_tuned-*.npz"))
    assert len(entries) == 1
    assert load_checkpoint(entries[0])[1]["kind"] == "fine-tuning memo"
    # beside them what the run derives from those weights: the history's fits and the break-even map
    derived = {kind: list(memo.CACHE_DIR.glob(f"{kind}-*.json")) for kind in ("beliefs", "break_even")}
    assert [len(entries) for entries in derived.values()] == [1, 1]
    rerun = outputs("rerun")
    assert (rerun["metrics"], rerun["training"]) == (first["metrics"], first["training"])
    for kind, wrong in (("beliefs", ('"base": [', '"base": [0.5, ')),                   # one belief too many
                        ("break_even", ('"llm_price": ', '"llm_price": 1e-3 + '))):    # not a number
        entry = derived[kind][0]
        entry.write_text(entry.read_text().replace(*wrong, 1))
        reshaped = outputs(f"reshaped {kind}")
        assert reshaped["err"].count(f"{kind} memo") == 1 and reshaped["metrics"] == first["metrics"]
        assert memo.recall_record(kind, json.loads(entry.read_text())["memo_key"], print)   # rebuilt
    entries[0].write_bytes(entries[0].read_bytes()[:500])                   # a truncated memo
    damaged = outputs("damaged")
    assert damaged["err"].count("fine-tuning memo unusable") == 1
    assert (damaged["metrics"], damaged["training"]) == (first["metrics"], first["training"])
    assert load_checkpoint(entries[0])[1]["kind"] == "fine-tuning memo"     # rebuilt
    for entry in memo.CACHE_DIR.iterdir():
        entry.unlink()
    assert outputs("no-cache", "--no-cache")["training"] == first["training"]
    assert not list(memo.CACHE_DIR.iterdir())   # --no-cache neither reads nor writes any record


def test_the_memo_folder_keeps_only_its_newest_entries(tmp_path, monkeypatch):
    import os
    from trm_demo import memo
    monkeypatch.setattr(memo, "MAX_ENTRIES", 2)
    entries = [tmp_path / f"fine_tuned-{i}.npz" for i in range(5)]
    for age, path in enumerate(entries):                     # entries[0] newest, entries[4] oldest
        path.write_bytes(b"x")
        os.utime(path, (1e9 - age, 1e9 - age))
    other = tmp_path / "notes.txt"                            # not an entry: never touched
    other.write_text("mine")
    memo.prune(tmp_path, keep=entries[3])                     # `keep`, just written, survives whatever its clock
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([entries[0].name, entries[1].name,
                                                                 entries[3].name, "notes.txt"])


def without_clocks(data):
    """A run's JSON without what the clock decides (durations, dates) or the command line that names its paths."""
    if isinstance(data, dict):
        return {k: without_clocks(v) for k, v in data.items()
                if k not in ("wall_clock", "timings", "seconds", "date", "command", "config_hash")}
    return [without_clocks(v) for v in data] if isinstance(data, list) else data
