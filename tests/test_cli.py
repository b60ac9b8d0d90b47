"""The ``gmmjax`` command line: happy paths and one test per error path (exit 2, one line)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import X64, only_float64_run

import gmmjax as gj
from gmmjax import cli
from gmmjax._src.app import commands, demo
from gmmjax._src.app.io import InputError, load_gmm, save_gmm

# Argument handling and files do not depend on the default precision; the numbers come from
# library functions tested in both runs.
pytestmark = only_float64_run

# Compiling a fit is what costs (seconds per program), so the fits below share programs: the
# quick fits all run QUICK_FIT on 1-D data of QUICK_POINTS points (one compiled program per
# loss), and the tests that only read a default fit's outputs share one run (``blob_fit``).
QUICK_POINTS = 120
QUICK_FIT = ("--components", "6", "--t", "2", "--steps", "5", "--quiet")
BLOB_FIT = ("--components", "10", "--steps", "100")  # the default width, progress lines

GMM_A = {"weights": [0.4, 0.6], "means": [[0.0, 0.0], [1.0, 1.0]], "covs": [[1.0, 1.0], [0.5, 2.0]]}
GMM_B = {
    "weights": [1.0],
    "means": [[0.5, -0.5]],
    "covs": [[[1.0, 0.2], [0.2, 0.8]]],
}


@pytest.fixture
def files(tmp_path):
    a = tmp_path / "a.json"
    b = tmp_path / "b.json"
    a.write_text(json.dumps(GMM_A))
    b.write_text(json.dumps(GMM_B))
    return a, b


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@dataclasses.dataclass(frozen=True)
class Run:
    """Exit status and output of one in-process command line."""

    code: int
    out: str
    err: str


def run_captured(*argv: str) -> Run:
    """``cli.main(argv)`` in this process, its stdout and stderr captured (no ``capsys``)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(list(argv))
        except SystemExit as exc:
            code = exc.code
    return Run(code, out.getvalue(), err.getvalue())


@pytest.fixture
def one_d(tmp_path):
    """A 1-D data file of QUICK_POINTS points (the shape every quick fit uses)."""
    path = tmp_path / "one.npy"
    np.save(path, np.random.default_rng(0).standard_normal(QUICK_POINTS))
    return path


def assert_usage_error(code: int, err: str, *fragments: str) -> None:
    """A file or value error: exit 2 and exactly one line on stderr, no traceback."""
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gmmjax")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def assert_syntax_error(code: int, err: str, *fragments: str) -> None:
    """A malformed command line: the command's usage, then one error line; exit 2."""
    usage, _, last = err.strip().rpartition("\n")
    assert usage.startswith("usage: gmmjax"), err
    assert_usage_error(code, last, *fragments)


@pytest.mark.parametrize("metric", ["l2", "cs", "kl"])
def test_distance_matches_library(capsys, files, metric):
    a, b = files
    code, out, _ = run_cli(capsys, "distance", str(a), str(b), "--metric", metric, "--json")
    assert code == 0
    value = json.loads(out)["value"]
    p, q = load_gmm(a), load_gmm(b)
    expected = {
        "l2": gj.l2_distance,
        "cs": gj.cauchy_schwarz_divergence,
        "kl": gj.kl_divergence,
    }[metric](p, q)
    assert value == pytest.approx(float(expected), rel=1e-6)


def test_distance_plain_output_and_npz(capsys, files, tmp_path):
    a, b = files
    npz = tmp_path / "b.npz"
    save_gmm(load_gmm(b), npz)
    code, out, _ = run_cli(capsys, "distance", str(a), str(npz))
    assert code == 0
    _, json_out, _ = run_cli(capsys, "distance", str(a), str(b), "--json")
    assert float(out) == pytest.approx(json.loads(json_out)["value"], rel=1e-6)


def test_json_round_trip(tmp_path):
    p = load_gmm_from(GMM_B, tmp_path)
    save_gmm(p, tmp_path / "out.json")
    q = load_gmm(tmp_path / "out.json")
    np.testing.assert_allclose(np.asarray(q.covs), np.asarray(p.covs))


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_low_rank_file_round_trip_and_distance(capsys, tmp_path, suffix):
    """A low-rank mixture is written as factors and noise (no d x d matrix) and read back
    as the same structure; the distance command reads it like any other file."""
    rng = np.random.default_rng(3)
    p = gj.GMM.low_rank(
        np.array([0.25, 0.75]),
        rng.standard_normal((2, 3)),
        rng.standard_normal((2, 3, 1)),
        np.array([0.5, 0.2]),
    )
    path = tmp_path / f"p{suffix}"
    save_gmm(p, path)
    if suffix == ".json":
        assert "covs" not in json.loads(path.read_text())
    q = load_gmm(path)
    assert q.is_low_rank
    np.testing.assert_allclose(np.asarray(q.full_covs()), np.asarray(p.full_covs()), rtol=1e-6)
    code, out, _ = run_cli(capsys, "distance", str(path), str(path), "--metric", "l2")
    assert code == 0 and float(out) == pytest.approx(0.0, abs=1e-3)


def test_low_rank_file_missing_noise_names_it(tmp_path):
    data = {"weights": [1.0], "means": [[0.0, 0.0]], "factors": [[[1.0], [0.0]]]}
    with pytest.raises(InputError, match="noise"):
        load_gmm_from(data, tmp_path)


def load_gmm_from(data: dict, tmp_path) -> gj.GMM:
    path = tmp_path / "in.json"
    path.write_text(json.dumps(data))
    return load_gmm(path)


def test_sklearn_joblib_file(capsys, files, tmp_path):
    joblib = pytest.importorskip("joblib")
    pytest.importorskip("sklearn")
    a, _ = files
    est = load_gmm(a).to_sklearn()
    path = tmp_path / "model.joblib"
    joblib.dump(est, path)
    code, out, _ = run_cli(capsys, "distance", str(a), str(path), "--metric", "cs")
    assert code == 0
    assert float(out) == pytest.approx(0.0, abs=1e-6)


# ---------------------------------------------------------------- error paths
# (file name, its contents or None for no file, fragments the one-line error must contain)
BAD_SECOND_FILES = {
    "missing_file": ("nope.json", None, ("nope.json", "no such file")),
    "invalid_json": ("bad.json", "{not json", ("bad.json", "not valid JSON")),
    "json_not_object": ("list.json", "[1, 2]", ("list.json", "JSON object")),
    "missing_field": (
        "nocovs.json",
        json.dumps({"weights": [1.0], "means": [[0.0, 0.0]]}),
        ("missing field", "covs"),
    ),
    "non_numeric_field": (
        "text.json",
        json.dumps({"weights": ["x"], "means": [[0.0, 0.0]], "covs": [[1.0, 1.0]]}),
        ("numeric",),
    ),
    "bad_weights": (
        "w.json",
        json.dumps({**GMM_B, "weights": [0.5]}),
        ("w.json", "weights must sum to 1"),
    ),
    "not_psd": (
        "psd.json",
        json.dumps({**GMM_B, "covs": [[[1.0, 2.0], [2.0, 1.0]]]}),
        ("positive semi-definite",),
    ),
    "shape_mismatch": (
        "shape.json",
        json.dumps({**GMM_B, "weights": [0.5, 0.5]}),
        ("weights must have shape",),
    ),
    "dimension_mismatch": (
        "three.json",
        json.dumps({"weights": [1.0], "means": [[0.0] * 3], "covs": [[1.0] * 3]}),
        ("dimension mismatch",),
    ),
    "unknown_extension": ("model.yaml", "weights: [1]", ("unknown GMM file type",)),
    "bad_npz": ("broken.npz", b"not a zip file", ("broken.npz",)),
}


def distance_to(capsys, a, path, contents: str | bytes | None) -> tuple[int, str, str]:
    """``gmmjax distance a path``, with ``contents`` written to ``path`` first (unless None)."""
    if isinstance(contents, bytes):
        path.write_bytes(contents)
    elif contents is not None:
        path.write_text(contents)
    return run_cli(capsys, "distance", str(a), str(path))


@pytest.mark.parametrize("case", list(BAD_SECOND_FILES))
def test_error_bad_second_file(capsys, files, tmp_path, case):
    name, contents, fragments = BAD_SECOND_FILES[case]
    code, _, err = distance_to(capsys, files[0], tmp_path / name, contents)
    assert_usage_error(code, err, *fragments)


def test_error_unknown_metric(capsys, files):
    a, b = files
    code, _, err = run_cli(capsys, "distance", str(a), str(b), "--metric", "hellinger")
    assert_syntax_error(code, err, "invalid choice", "hellinger")


def test_error_unknown_option(capsys, files):
    a, b = files
    code, _, err = run_cli(capsys, "distance", str(a), str(b), "--frobnicate")
    assert_syntax_error(code, err, "unrecognized arguments")


def test_error_unknown_command(capsys):
    code, _, err = run_cli(capsys, "transmogrify")
    assert_syntax_error(code, err, "invalid choice")


def test_error_no_command(capsys):
    code, _, err = run_cli(capsys)
    assert_syntax_error(code, err, "required")


def test_error_non_positive_epsilon(capsys, files):
    a, b = files
    code, _, err = run_cli(capsys, "distance", str(a), str(b), "--epsilon", "0")
    assert_usage_error(code, err, "--epsilon must be a finite number > 0")


def test_error_epsilon_not_a_number(capsys, files):
    a, b = files
    code, _, err = run_cli(capsys, "distance", str(a), str(b), "--epsilon", "abc")
    assert_syntax_error(code, err, "invalid float value")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [("1.0\nnan\n2.0\n", "NaN or inf"), ("a,b\n1,x\n", "cannot read data"), ("", "empty")],
)
def test_error_bad_data_file(capsys, tmp_path, content, fragment):
    data = tmp_path / "data.csv"
    data.write_text(content)
    out = tmp_path / "m.json"
    code, _, err = run_cli(capsys, "fit", str(data), "--components", "5", "--out", str(out))
    assert_usage_error(code, err, fragment)


@pytest.mark.parametrize(
    ("flag", "value", "fragment"),
    [("--t", "-1", "--t"), ("--t", "nan", "--t"), ("--steps", "0", "--steps")],
)
def test_error_bad_fit_values(capsys, tmp_path, flag, value, fragment):
    data = tmp_path / "data.npy"
    np.save(data, np.random.default_rng(0).standard_normal(100))
    args = ["fit", str(data), "--components", "5", "--out", str(tmp_path / "m.json")]
    args += [flag, value]
    code, _, err = run_cli(capsys, *args)
    assert_usage_error(code, err, fragment)


def test_fit_writes_a_model(capsys, tmp_path):
    """A CSV file with a header in, the model and a plain summary out (1-D: with the DIL)."""
    data = tmp_path / "data.csv"
    np.savetxt(data, np.random.default_rng(0).normal(size=QUICK_POINTS), header="x", comments="")
    out = tmp_path / "model.json"
    code, stdout, err = run_cli(capsys, "fit", str(data), *QUICK_FIT, "--out", str(out))
    assert code == 0 and err == ""  # --quiet: nothing on stderr
    model = load_gmm(out)
    assert model.n_components == 6
    summary = dict(line.split(maxsplit=1) for line in stdout.splitlines())
    assert summary["written"] == str(out) and summary["t_source"] == "--t"
    assert float(summary["mean_log_likelihood"]) == pytest.approx(
        float(np.mean(np.asarray(model.log_prob(np.loadtxt(data, skiprows=1)[:, None])))), rel=1e-5
    )
    assert 0.0 <= float(summary["dil_empirical"]) <= 1.0


def test_error_fit_missing_out(capsys, tmp_path):
    code, _, err = run_cli(capsys, "fit", str(tmp_path / "x.npy"), "--components", "3")
    assert_syntax_error(code, err, "--out")


# ---------------------------------------------------------------- optional dependencies
@pytest.fixture
def without(monkeypatch):
    """Make the named modules unimportable, as in an install without the extras."""

    def hide(*modules: str) -> None:
        for name in modules:
            monkeypatch.setitem(sys.modules, name, None)

    return hide


def test_demo_without_matplotlib(capsys, tmp_path, without):
    without("matplotlib")
    out = tmp_path / "demo-out"
    code, stdout, err = run_cli(capsys, "demo", "--out", str(out))
    assert_usage_error(code, err, "gmmjax demo needs matplotlib", "pip install 'gmmjax[plot]'")
    assert stdout == ""
    assert not out.exists()
    # Nothing changed in this process either: the demo's float64 switch comes after the check.
    assert jax.config.read("jax_enable_x64") == X64


def test_fit_plot_without_matplotlib(capsys, tmp_path, without):
    without("matplotlib")
    data = tmp_path / "data.npy"
    np.save(data, np.random.default_rng(0).standard_normal(100))
    model, plot = tmp_path / "m.json", tmp_path / "fit.png"
    args = ["fit", str(data), "--components", "5", "--out", str(model), "--plot", str(plot)]
    code, stdout, err = run_cli(capsys, *args)
    assert_usage_error(code, err, "--plot needs matplotlib", "pip install 'gmmjax[plot]'")
    assert stdout == ""
    assert not model.exists() and not plot.exists()


@pytest.mark.parametrize("missing", ["joblib", "sklearn"])
def test_joblib_file_without_sklearn(capsys, files, tmp_path, without, missing):
    without(missing)
    a, _ = files
    model = tmp_path / "model.joblib"
    model.write_bytes(b"not read")
    code, stdout, err = run_cli(capsys, "distance", str(model), str(a))
    assert_usage_error(code, err, "model.joblib needs", "pip install 'gmmjax[sklearn]'")
    assert stdout == ""


_WITHOUT_EXTRAS = """
import runpy, sys
for name in ('matplotlib', 'sklearn', 'joblib'):
    sys.modules[name] = None
import gmmjax.cli, gmmjax.targets
print(gmmjax.cli.build_parser().prog, flush=True)
sys.argv = ['gmmjax', *sys.argv[1:]]
runpy.run_module('gmmjax', run_name='__main__', alter_sys=True)  # as python -m gmmjax
"""


def test_entry_point_without_optional_dependencies(tmp_path):
    """A fresh process without the extras imports the CLI, and ``python -m gmmjax`` reports
    an error in one line, without a traceback (one process for both: starting one costs)."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    argv = ["distance", str(tmp_path / "a.json"), "b.json"]
    proc = subprocess.run(
        [sys.executable, "-c", _WITHOUT_EXTRAS, *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.stdout.strip() == "gmmjax", proc.stderr
    assert proc.returncode == 2
    assert_usage_error(proc.returncode, proc.stderr, "a.json", "no such file")


PNG = b"\x89PNG\r\n\x1a\n"


def test_fit_plot_writes_png(capsys, tmp_path, one_d):
    """1-D through the command line (2-D: ``blob_fit``; more dimensions: the next test)."""
    pytest.importorskip("matplotlib")
    plot = tmp_path / "fit.png"
    args = ["fit", str(one_d), *QUICK_FIT, "--out", str(tmp_path / "m.json"), "--plot"]
    code, stdout, _ = run_cli(capsys, *args, str(plot))
    assert code == 0
    assert plot.read_bytes()[:8] == PNG
    assert f"plot                  {plot}" in stdout


def test_fit_plot_of_three_dimensional_data(tmp_path, blob_fit):
    """3-D data: the plot shows the first two coordinates (the fit itself is as in 2-D).

    A 10 x 10 x 1 grid has the shapes of ``blob_fit``'s plot in its first two coordinates, so
    the densities drawn reuse that plot's compiled programs.
    """
    pytest.importorskip("matplotlib")
    x = np.random.default_rng(3).standard_normal((300, 3))
    plot = tmp_path / "fit.png"
    commands.plotting.plot_fit(plot, x, gj.grid_basis(x, (10, 10, 1), 2.0))
    assert plot.read_bytes()[:8] == PNG


def test_demo_sections_name_the_papers():
    titles = [section.title for section in demo.SECTIONS]
    assert all("seed" not in title for title in titles)
    for author in ("You (2021)", "Hershey & Olsen (2007)", "Chen, Georgiou", "Lu et al. (2023)"):
        assert any(author in title for title in titles), author


# ---------------------------------------------------------------- checked before any work
@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "data.npy"
    np.save(path, np.random.default_rng(0).standard_normal((200, 2)))
    return path


@pytest.fixture
def no_fit(monkeypatch):
    """Fail the test if a fit starts: every check must come before it."""

    def fit_started(*args, **kwargs):
        raise AssertionError("the fit started before the arguments were checked")

    monkeypatch.setattr(gj, "fit_weights", fit_started)


def folder_state(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--out", "{tmp}/missing_dir/model.json"], "folder {tmp}/missing_dir does not exist"),
        (["--out", "{tmp}/model.txt"], "must end in .json or .npz"),
        (["--out", "{tmp}"], "must end in .json or .npz"),
        (["--out", "{tmp}/m.json", "--plot", "{tmp}/missing_dir/p.png"], "--plot"),
        (["--out", "{tmp}/m.json", "--plot", "{tmp}/p.gif"], "must end in .png or .pdf or .svg"),
        (["--out", "{tmp}/m.json", "--components", "101"], "= 10,201 components; at most 10,000"),
        (["--out", "{tmp}/m.json", "--components", "3,4,5"], "3 counts for 2-D data"),
    ],
)
def test_fit_checks_outputs_before_the_fit(capsys, tmp_path, data_file, no_fit, extra, fragment):
    """Each mistake: exit 2, one line, within a fraction of a second, no file created."""
    before = folder_state(tmp_path)
    args = ["fit", str(data_file), "--components", "4", "--steps", "5"]
    args += [a.format(tmp=tmp_path) for a in extra]
    start = time.perf_counter()
    code, out, err = run_cli(capsys, *args)
    assert time.perf_counter() - start < 1.0
    assert_usage_error(code, err, fragment.format(tmp=tmp_path))
    assert out == ""
    assert folder_state(tmp_path) == before
    assert not (tmp_path / "missing_dir").exists()


def test_fit_components_per_axis_limit_names_the_grid(capsys, tmp_path, no_fit):
    """50 per axis in 5-D is 3e8 components: refused, with the grid spelt out."""
    data = tmp_path / "five.npy"
    np.save(data, np.random.default_rng(0).standard_normal((50, 5)))
    code, _, err = run_cli(capsys, "fit", str(data), "--components", "50", "--out", "m.json")
    assert_usage_error(code, err, "50 x 50 x 50 x 50 x 50 = 312,500,000 components")


@pytest.mark.parametrize("command", ["fit", "distance"])
def test_directory_as_input_says_so(capsys, tmp_path, files, no_fit, command):
    a, _ = files
    if command == "fit":
        args = ["fit", str(tmp_path), "--components", "4", "--out", str(tmp_path / "m.json")]
    else:
        args = ["distance", str(a), str(tmp_path)]
    code, _, err = run_cli(capsys, *args)
    assert_usage_error(code, err, "is a directory, not a")


def test_weights_not_summing_to_one_suggest_normalize(capsys, files, tmp_path):
    a, _ = files
    heavy = tmp_path / "heavy.json"
    code, _, err = distance_to(capsys, a, heavy, json.dumps({**GMM_A, "weights": [0.8, 1.2]}))
    assert_usage_error(code, err, "weights must sum to 1", "--normalize")
    assert "normalize=True" not in err
    code, out, _ = run_cli(capsys, "distance", str(a), str(heavy), "--normalize", "--json")
    assert code == 0
    p = load_gmm(a)
    q = gj.GMM(np.array([0.4, 0.6]), p.means, p.covs)
    assert json.loads(out)["value"] == pytest.approx(float(gj.l2_distance(p, q)), abs=1e-12)


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--solver", "sinkhorn"], "--solver applies only to --metric mw2"),
        (["--epsilon", "0.1"], "--epsilon applies only to --metric mw2"),
        (["--metric", "mw2", "--epsilon", "0.1"], "--epsilon applies only to --solver sinkhorn"),
        (["--kl-method", "mc"], "--kl-method applies only to --metric kl"),
    ],
)
def test_options_that_do_not_apply_warn(capsys, files, extra, fragment):
    a, b = files
    code, out, err = run_cli(capsys, "distance", str(a), str(b), *extra)
    assert code == 0
    assert err.startswith(f"gmmjax: warning: {fragment}") and err.count("\n") == 1
    assert float(out) >= 0.0


def test_distance_json_reports_the_solver(capsys, files):
    a, b = files
    code, out, err = run_cli(capsys, "distance", str(a), str(b), "--metric", "mw2", "--json")
    assert code == 0 and err == ""
    result = json.loads(out)
    assert result["converged"] is True and result["n_iters"] >= 0
    expected = gj.mw2_distance(load_gmm(a), load_gmm(b))
    assert result["value"] == pytest.approx(float(expected), rel=1e-12)


def test_distance_kl_method(capsys, files):
    a, b = files
    args = ["distance", str(a), str(b), "--metric", "kl", "--kl-method", "upper_bound", "--json"]
    code, out, _ = run_cli(capsys, *args)
    assert code == 0
    expected = gj.kl_divergence(load_gmm(a), load_gmm(b), method="upper_bound")
    assert json.loads(out) == {"metric": "kl", "method": "upper_bound", "value": float(expected)}


def test_version_and_bare_command(capsys):
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0 and out.strip() == f"gmmjax {gj.__version__}"
    code, _, err = run_cli(capsys)
    assert_syntax_error(code, err, "required: command")
    assert "{demo,distance,fit}" in err


def test_fit_progress_on_stderr(blob_fit):
    """Progress lines (ten of them) on stderr, the result alone on stdout."""
    assert blob_fit.run.code == 0
    summary = json.loads(blob_fit.run.out)  # stdout holds the result only
    assert summary["n_components"] == 100 and summary["written"] == str(blob_fit.model)
    err = blob_fit.run.err
    assert "fitting 100 weights to 2,000 points in 2-D" in err
    assert err.count("fit_weights step") == 10 and "/100" in err
    # --quiet: test_fit_writes_a_model and test_every_loss_runs_or_refuses_at_once


# ---------------------------------------------------------------- outputs are never lost
def test_failed_plot_leaves_the_previous_model(capsys, monkeypatch, tmp_path, one_d):
    pytest.importorskip("matplotlib")
    model, plot = tmp_path / "model.json", tmp_path / "fit.png"
    model.write_text('{"previous": true}\n')

    def plot_fails(path, x, gmm):
        path.write_bytes(b"partial")
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(commands.plotting, "plot_fit", plot_fails)
    before = folder_state(tmp_path)
    args = ["fit", str(one_d), *QUICK_FIT, "--out", str(model), "--plot", str(plot)]
    code, _, err = run_cli(capsys, *args)
    assert_usage_error(code, err, "No space left on device")
    assert folder_state(tmp_path) == before  # no partial file, no temporary left behind


def test_interrupted_write_leaves_the_previous_model(capsys, monkeypatch, tmp_path, one_d):
    model = tmp_path / "model.json"
    model.write_text('{"previous": true}\n')

    def interrupted(gmm, path):
        path.write_text('{"weights": [0.1')
        raise KeyboardInterrupt

    monkeypatch.setattr(commands.io, "save_gmm", interrupted)
    before = folder_state(tmp_path)
    code, _, err = run_cli(capsys, "fit", str(one_d), *QUICK_FIT, "--out", str(model))
    assert code == 130 and err.strip() == "gmmjax: interrupted"
    assert folder_state(tmp_path) == before


def test_non_finite_fit_is_an_error(capsys, monkeypatch, tmp_path, one_d):
    model = tmp_path / "model.json"
    model.write_text('{"previous": true}\n')
    fit = gj.fit_weights

    def nan_fit(*args, **kwargs):
        result = fit(*args, **kwargs)
        weights = jnp.full_like(result.gmm.weights, jnp.nan)
        gmm = gj.GMM._unchecked(weights, result.gmm.means, result.gmm.covs)
        return dataclasses.replace(result, gmm=gmm)

    monkeypatch.setattr(gj, "fit_weights", nan_fit)
    before = folder_state(tmp_path)
    code, _, err = run_cli(capsys, "fit", str(one_d), *QUICK_FIT, "--out", str(model))
    assert_usage_error(code, err, "non-finite weights", "nothing was written")
    assert folder_state(tmp_path) == before


def test_replaced_model_keeps_its_permissions(capsys, tmp_path, one_d):
    model = tmp_path / "model.json"
    model.write_text("{}")
    model.chmod(0o640)
    code, _, _ = run_cli(capsys, "fit", str(one_d), *QUICK_FIT, "--out", str(model))
    assert code == 0
    assert load_gmm(model).n_components == 6
    assert model.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "one.npy"]


# ---------------------------------------------------------------- Ctrl-C at any moment
# Before the heavy imports: in a fresh process, whose child announces the moment on stderr and
# gets SIGINT from the parent as soon as it is read. During the fit and after the write: in
# this process (same signal, same handler), sent by the process to itself at that moment.
_CHILD = """
import signal, sys

# As at a terminal: pytest-xdist workers ignore SIGINT, and their children inherit that.
signal.signal(signal.SIGINT, signal.default_int_handler)
from gmmjax import cli

build = cli.build_parser  # the heavy imports (JAX) happen inside build_parser


def announced():
    sys.stderr.write("moment\\n"); sys.stderr.flush()
    return build()


cli.build_parser = announced
sys.exit(cli.main(sys.argv[1:]))
"""


def test_sigint_before_the_imports_leaves_the_previous_output(tmp_path, data_file):
    model = tmp_path / "model.json"
    model.write_text('{"previous": true}\n')
    before = folder_state(tmp_path)
    args = ["fit", str(data_file), "--components", "3", "--t", "2", "--out", str(model)]
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        for line in child.stderr:
            if "moment" in line:
                child.send_signal(signal.SIGINT)
                break
        _, err = child.communicate(timeout=120)
    finally:
        child.kill()
    assert child.returncode == 130, err
    assert err.strip().endswith("gmmjax: interrupted") and "Traceback" not in err
    assert folder_state(tmp_path) == before  # byte for byte, no temporary left behind


@contextlib.contextmanager
def sigint_as_at_a_terminal():
    """SIGINT raises KeyboardInterrupt meanwhile (pytest-xdist workers ignore it)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def interrupt_me() -> None:
    os.kill(os.getpid(), signal.SIGINT)


class _InterruptAt(io.TextIOBase):
    """A stream that passes text on and sends SIGINT once, when ``marker`` is written."""

    def __init__(self, stream, marker: str) -> None:
        self.stream, self.marker, self.sent = stream, marker, False

    def write(self, text: str) -> int:
        self.stream.write(text)
        if self.marker in text and not self.sent:
            self.sent = True
            interrupt_me()
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


@pytest.mark.parametrize("moment", ["fit", "write"])
def test_sigint_during_the_fit_or_after_the_write_leaves_the_previous_output(
    capsys, monkeypatch, tmp_path, one_d, blob_fit, moment
):
    """At the first progress line of the fit, or once the new model is in its temporary file."""
    model = tmp_path / "model.json"
    model.write_text('{"previous": true}\n')
    before = folder_state(tmp_path)
    if moment == "fit":  # the shared fit's program, with its progress lines
        args = ["fit", str(blob_fit.data), *BLOB_FIT, "--out", str(model)]
    else:
        args = ["fit", str(one_d), *QUICK_FIT, "--out", str(model)]
        save = commands.io.save_gmm

        def saved_then_interrupted(gmm, path):
            save(gmm, path)
            interrupt_me()

        monkeypatch.setattr(commands.io, "save_gmm", saved_then_interrupted)
    stream = _InterruptAt(sys.stderr, "fit_weights step")
    with sigint_as_at_a_terminal(), contextlib.redirect_stderr(stream):
        code, _, err = run_cli(capsys, *args)
    assert stream.sent == (moment == "fit")
    assert code == 130, err
    assert err.strip().endswith("gmmjax: interrupted") and "Traceback" not in err
    assert folder_state(tmp_path) == before  # byte for byte, no temporary left behind


def test_interrupt_inside_a_jax_callback_is_not_logged_as_a_failure(caplog):
    """Ctrl-C in a host callback (a fit's progress line) is not logged with a traceback.

    JAX logs every exception raised in a callback before re-raising it; while the CLI's trap
    is installed that record is dropped when it carries the interrupt.
    """

    def progress(_):
        os.kill(os.getpid(), signal.SIGINT)  # the trap's handler raises KeyboardInterrupt here

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # xdist ignores SIGINT
    try:
        with cli._trap_interrupts() as trap, pytest.raises(jax.errors.JaxRuntimeError):
            jax.jit(lambda x: jax.debug.callback(progress, x) or x)(jnp.ones(2)).block_until_ready()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert trap.received == 1
    assert not [r for r in caplog.records if r.exc_info], caplog.text


# ---------------------------------------------------------------- right by default
def two_blobs(n: int, rng: np.random.Generator) -> np.ndarray:
    """Two unit-variance 2-D blobs, centres (-3, 0) and (3, 0)."""
    side = rng.integers(0, 2, n)[:, None]
    return rng.standard_normal((n, 2)) + np.where(side == 0, -3.0, 3.0) * np.array([1.0, 0.0])


@dataclasses.dataclass(frozen=True)
class BlobFit:
    """``gmmjax fit blobs.npy BLOB_FIT --out m.json --plot fit.png --json``, run once."""

    data: object  # the data file
    train: np.ndarray
    test: np.ndarray  # held-out points from the same distribution
    model: object
    plot: object
    run: Run


@pytest.fixture(scope="module")
def blob_fit(tmp_path_factory) -> BlobFit:
    """One default-width fit, read by every test that only reads its outputs."""
    folder = tmp_path_factory.mktemp("blobs")
    rng = np.random.default_rng(0)
    train, test = two_blobs(2000, rng), two_blobs(2000, rng)
    data, model, plot = folder / "blobs.npy", folder / "m.json", folder / "fit.png"
    np.save(data, train)
    args = ["fit", str(data), *BLOB_FIT, "--out", str(model), "--json"]
    if importlib.util.find_spec("matplotlib") is not None:
        args += ["--plot", str(plot)]
    run = run_captured(*args)
    return BlobFit(data, train, test, model, plot, run)


def test_fit_default_width_matches_sklearn_on_two_blobs(blob_fit):
    """Without --t: held-out within 0.1 nats of GaussianMixture(2), two modes, t reported."""
    mixture = pytest.importorskip("sklearn.mixture")
    assert blob_fit.run.code == 0, blob_fit.run.err
    summary = json.loads(blob_fit.run.out)
    assert summary["t_source"] == "held-out likelihood" and summary["t"] < 2.0
    assert f"basis width t = {summary['t']:g} grid spacings" in blob_fit.run.err
    model = load_gmm(blob_fit.model)
    ours = float(np.mean(np.asarray(model.log_prob(blob_fit.test))))
    peer = mixture.GaussianMixture(2, random_state=0).fit(blob_fit.train).score(blob_fit.test)
    assert ours > peer - 0.1, (ours, peer)
    line = np.stack([np.linspace(-6.0, 6.0, 241), np.zeros(241)], axis=1)
    profile = np.asarray(model.log_prob(line))
    peaks = np.flatnonzero((profile[1:-1] > profile[:-2]) & (profile[1:-1] > profile[2:])) + 1
    assert len(peaks) == 2 and line[peaks[0], 0] < -1.5 and line[peaks[1], 0] > 1.5
    assert summary["mean_log_likelihood"] == pytest.approx(
        float(np.mean(np.asarray(model.log_prob(blob_fit.train)))), rel=1e-9
    )


def test_fit_plot_of_two_dimensional_data(blob_fit):
    pytest.importorskip("matplotlib")
    assert blob_fit.plot.read_bytes()[:8] == PNG
    assert json.loads(blob_fit.run.out)["plot"] == str(blob_fit.plot)


# ---------------------------------------------------------------- every choice works
@pytest.mark.parametrize("loss", commands.FIT_LOSSES)
def test_every_loss_runs_or_refuses_at_once(capsys, tmp_path, monkeypatch, loss):
    """1-D data: every loss fits. 2-D data: a 1-D-only loss is refused before any work."""
    from gmmjax._src.learner.losses import LOSSES

    rng = np.random.default_rng(0)
    one, two = tmp_path / "one.npy", tmp_path / "two.npy"
    np.save(one, rng.standard_normal(QUICK_POINTS))
    np.save(two, rng.standard_normal((QUICK_POINTS, 2)))
    args = [*QUICK_FIT, "--loss", loss]
    code, stdout, err = run_cli(capsys, "fit", str(one), *args, "--out", str(tmp_path / "a.json"))
    assert code == 0 and err == ""
    assert "mean_log_likelihood" in stdout
    if LOSSES[loss].one_dimensional:
        monkeypatch.setattr(gj, "fit_weights", _fit_started)
        monkeypatch.setattr(commands, "select_grid_width", _fit_started)
        for width in ([], ["--t", "2"]):
            call = ["fit", str(two), "--components", "6", "--loss", loss, *width]
            code, _, err = run_cli(capsys, *call, "--out", str(tmp_path / "b.json"))
            assert_usage_error(code, err, f"--loss {loss}", "needs 1-D data", "2-D")
        assert not (tmp_path / "b.json").exists()


def _fit_started(*args, **kwargs):
    raise AssertionError("the work started before the arguments were checked")


@pytest.mark.parametrize("method", list(gj.KL_METHODS))
def test_every_kl_method_runs(capsys, files, method):
    """Every --kl-method choice gives the library's value (mc with --seed and --samples)."""
    a, b = files
    args = ["distance", str(a), str(b), "--metric", "kl", "--kl-method", method, "--json"]
    extra = ["--seed", "3", "--samples", "64"] if method == "mc" else []
    code, out, err = run_cli(capsys, *args, *extra)
    assert code == 0 and err == ""
    keys = {"key": jax.random.key(3), "n_samples": 64} if method == "mc" else {}
    expected = float(gj.kl_divergence(load_gmm(a), load_gmm(b), method, **keys))
    assert json.loads(out)["value"] == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_monte_carlo_options_are_checked(capsys, files):
    a, b = files
    kl = ["distance", str(a), str(b), "--metric", "kl"]
    code, _, err = run_cli(capsys, *kl, "--kl-method", "mc", "--samples", "0")
    assert_usage_error(code, err, "--samples must be >= 1")
    code, _, err = run_cli(capsys, *kl, "--seed", "1")
    assert code == 0 and err.startswith("gmmjax: warning: --seed applies only to")


def _subparsers():
    parser = cli.build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return parser, action.choices


def test_every_help_shows_defaults_and_examples():
    """Each option with a value says its default (or that it is required); examples per command."""
    parser, commands_ = _subparsers()
    assert "examples:" in parser.format_help()
    for name, sub in commands_.items():
        text = sub.format_help()
        assert "examples:" in text and f"gmmjax {name}" in text.split("examples:")[1]
        formatter = sub._get_formatter()
        for action in sub._actions:
            if not action.option_strings or action.nargs == 0 or action.help is None:
                continue  # positionals, flags and --help
            shown = formatter._get_help_string(action) % {"default": action.default}
            assert "default" in shown or action.required, (name, action.option_strings)
    fit_help = commands_["fit"].format_help()
    for term in ("sigma = t x", "negative log", "Eq. 5", "held-out likelihood"):
        assert term in " ".join(fit_help.split()), term
    distance_help = " ".join(commands_["distance"].format_help().split())
    for term in ("Cauchy-Schwarz", "Kullback-Leibler", "mixture Wasserstein", "n_iters", "-1"):
        assert term in distance_help, term


def test_one_name_per_option(capsys, tmp_path):
    """No option has two spellings, and abbreviations are not guessed."""
    _, commands_ = _subparsers()
    for sub in commands_.values():
        long_names = [a.option_strings for a in sub._actions if a.option_strings]
        assert all(len([s for s in names if s.startswith("--")]) == 1 for names in long_names)
    data = tmp_path / "x.npy"
    np.save(data, np.arange(20.0))
    code, _, err = run_cli(capsys, "fit", str(data), "--compo", "4", "--out", "m.json")
    assert code == 2 and "ambiguous" not in err and "--components" in err


# ---------------------------------------------------------------- model files and precision
def test_model_files_round_trip_between_precisions(tmp_path):
    """A float32 session's file loads in float64 and a float64 session's file in float32.

    The float32 session is this process with ``jax.enable_x64(False)`` (the setting the loader
    and the mixture's checks read), which costs no new process.
    """
    rng = np.random.default_rng(1)
    w64 = rng.dirichlet(np.ones(53) * 0.3)  # sums to 1 only within float64 round-off
    model64 = gj.GMM(w64, rng.standard_normal((53, 2)), rng.uniform(0.5, 2.0, (53, 2)))
    path64, path32 = tmp_path / "m64.json", tmp_path / "m32.json"
    save_gmm(model64, path64)
    with jax.enable_x64(False):
        logits = jnp.asarray(rng.standard_normal(37), jnp.float32)
        means = jnp.linspace(0.0, 1.0, 37)[:, None]
        gmm32 = gj.GMM(jax.nn.softmax(logits), means, jnp.ones((37, 1)))
        assert gmm32.weights.dtype == jnp.float32
        save_gmm(gmm32, path32)
        written = np.asarray(gmm32.weights).astype(np.float64)
        read32 = load_gmm(path64).weights  # float32 session's copy of the float64 file
        assert read32.dtype == jnp.float32
        np.testing.assert_array_equal(np.asarray(read32), w64.astype(np.float32))
    loaded = load_gmm(path32)  # float64 session, float32 file
    assert loaded.weights.dtype == np.float64
    np.testing.assert_allclose(np.asarray(loaded.weights), written, rtol=2e-7, atol=0)
    assert abs(float(np.sum(loaded.weights)) - 1.0) < 1e-15


def test_old_float32_file_loads_and_a_bad_sum_shows_its_digits(capsys, files, tmp_path):
    """Weights off by float32 round-off load (renormalised); 1e-3 off is an error, digits shown."""
    a, _ = files
    w32 = np.full(10, 0.1, np.float32).astype(np.float64)  # float32 0.1: sum 1 + 1.5e-8
    old = {"weights": w32.tolist(), "means": np.zeros((10, 1)).tolist(), "covs": [[1.0]] * 10}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    assert abs(float(np.sum(load_gmm(path).weights)) - 1.0) < 1e-15
    with pytest.raises(ValueError, match=r"got a sum of 1\.0000001\d*\. "):
        gj.GMM(np.array([0.4, 0.6000001]), np.zeros((2, 1)), np.ones((2, 1)))
    bad = tmp_path / "bad.json"
    code, _, err = distance_to(capsys, a, bad, json.dumps({**GMM_A, "weights": [0.4, 0.6001]}))
    assert_usage_error(code, err, "got a sum of 1.000")
