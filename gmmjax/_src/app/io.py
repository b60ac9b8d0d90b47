"""Reading and writing mixtures and data sets for the command line.

GMM files
---------
JSON (``.json``)::

    {"weights": [0.3, 0.7],
     "means":   [[0.0, 0.0], [1.0, 2.0]],
     "covs":    [[[1.0, 0.0], [0.0, 1.0]], [[0.5, 0.1], [0.1, 0.5]]]}

``covs`` holds full ``(K, d, d)`` matrices or diagonal ``(K, d)`` variances, told apart by
nesting depth. A mixture with low-rank-plus-isotropic covariances
:math:`\\Sigma_k = F_kF_k^T + s_kI` (:meth:`~gmmjax.GMM.low_rank`) stores ``factors``
``(K, d, r)`` and ``noise`` ``(K,)`` in place of ``covs``, so no ``d x d`` matrix is written::

    {"weights": [1.0], "means": [[0.0, 0.0]],
     "factors": [[[1.0], [0.5]]], "noise": [0.1]}

The optional key ``"format": "gmmjax.gmm/1"`` is written by gmmjax and accepted
on reading. NPZ (``.npz``): arrays ``weights``, ``means``, ``covs`` (or ``factors`` and
``noise``) with the same shapes.

Precision. Files hold float64 numbers whatever the precision of the session that wrote them,
so a model written with ``JAX_ENABLE_X64=0`` loads in a float64 session and vice versa:

- on writing, the weights are renormalised in float64 (``w / sum(w)``), so they sum to 1
  within float64 round-off even when they were computed in float32;
- on reading, weights whose sum is within the float32 tolerance of 1
  (:math:`|\\sum_k w_k - 1| \\le 64\\,\\epsilon_{32} K`, about :math:`7.6\\times10^{-6} K`;
  files written by a float32 session before the rule above) are renormalised in float64 and
  accepted; a sum further from 1 is an error that prints the sum, unless ``normalize``
  (``--normalize``) asks to divide by it.
A fitted scikit-learn ``GaussianMixture`` saved with ``joblib.dump`` (``.joblib``, ``.pkl``)
is read too (unpickling runs code: only load files you trust); this needs scikit-learn and
joblib, ``pip install 'gmmjax[sklearn]'``.

Data files
----------
``.npy`` arrays of shape ``(n,)`` or ``(n, d)``; ``.csv``/``.txt`` with one sample per row,
comma- or whitespace-separated, an optional header line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from gmmjax._src.app.optional import require
from gmmjax._src.core.mixture import GMM
from gmmjax._src.core.rules import weight_tolerance

FORMAT_TAG = "gmmjax.gmm/1"
SKLEARN_SUFFIXES = (".joblib", ".pkl")


class InputError(ValueError):
    """A file or value given on the command line cannot be used (reported in one line)."""


def check_input_file(path: str | Path, what: str) -> Path:
    """``path`` as a :class:`~pathlib.Path` if it names a readable file.

    Raises:
        InputError: the path does not exist, is a directory, or cannot be read.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a {what} file")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: not readable (permission denied)")
    return path


def renormalised(weights: Any) -> np.ndarray:
    """Float64 ``weights / sum(weights)`` when the sum is 1 to float32 precision.

    Any other array (a sum further from 1, negative or non-finite entries, no entries) is
    returned as float64 unchanged, for the mixture's own checks to report.
    """
    w = np.asarray(weights, np.float64)
    if w.ndim != 1 or w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0):
        return w
    total = float(np.sum(w))
    if abs(total - 1.0) <= weight_tolerance(np.float32, w.size):
        return w / total
    return w


def _gmm_from_arrays(
    source: str, weights: Any, means: Any, covs: Any, normalize: bool = False
) -> GMM:
    """A GMM from file arrays; ``covs`` is an array or a ``(factors, noise)`` pair."""
    try:
        weights, means = renormalised(weights), np.asarray(means, float)
        if isinstance(covs, tuple):
            return GMM.low_rank(weights, means, *covs, normalize=normalize)
        return GMM(weights, means, np.asarray(covs, float), normalize=normalize)
    except (ValueError, TypeError) as err:
        message = str(err).replace("GMM(..., normalize=True) or GMM.from_logits", "--normalize")
        raise InputError(f"{source}: not a valid GMM: {message}") from None


def require_reader(path: str | Path) -> None:
    """Check that the optional packages needed to read the GMM file ``path`` are installed.

    Raises:
        MissingDependencyError: for a joblib file without scikit-learn or joblib.
    """
    path = Path(path)
    if path.suffix.lower() in SKLEARN_SUFFIXES:
        for module in ("joblib", "sklearn"):
            require(module, f"reading {path.name}")


def load_gmm(path: str | Path, normalize: bool = False) -> GMM:
    """Read a GMM from a JSON, NPZ or joblib file (schema in the module docstring).

    Args:
        path: the file.
        normalize: divide the weights by their sum instead of requiring it to be 1.
    """
    path = check_input_file(path, "GMM")
    require_reader(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise InputError(f"{path}: not valid JSON ({err})") from None
        if not isinstance(data, dict):
            raise InputError(f"{path}: expected a JSON object with weights, means, covs")
        return _gmm_from_dict(str(path), data, normalize)
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                return _gmm_from_dict(str(path), {k: data[k] for k in data.files}, normalize)
        except (OSError, ValueError) as err:
            if isinstance(err, InputError):
                raise
            raise InputError(f"{path}: not a readable NPZ file ({err})") from None
    if suffix in SKLEARN_SUFFIXES:
        return _gmm_from_sklearn_file(path)
    raise InputError(f"{path}: unknown GMM file type {suffix!r} (use .json, .npz or .joblib)")


def _gmm_from_dict(source: str, data: dict[str, Any], normalize: bool = False) -> GMM:
    low_rank = "covs" not in data and ("factors" in data or "noise" in data)
    fields = ("weights", "means", "factors", "noise") if low_rank else ("weights", "means", "covs")
    missing = [k for k in fields if k not in data]
    if missing:
        raise InputError(f"{source}: missing field(s) {', '.join(missing)}")
    if not low_rank and ("factors" in data or "noise" in data):
        raise InputError(f"{source}: give either covs or factors and noise, not both")
    fmt = data.get("format", FORMAT_TAG)
    if fmt != FORMAT_TAG:
        raise InputError(f"{source}: unsupported format {fmt!r} (expected {FORMAT_TAG!r})")
    try:
        arrays = [np.asarray(data[k], dtype=float) for k in fields]
    except (ValueError, TypeError) as err:
        raise InputError(f"{source}: fields must be numeric arrays ({err})") from None
    covs = tuple(arrays[2:]) if low_rank else arrays[2]
    return _gmm_from_arrays(source, arrays[0], arrays[1], covs, normalize=normalize)


def _gmm_from_sklearn_file(path: Path) -> GMM:
    joblib = require("joblib", f"reading {path.name}")
    try:
        est = joblib.load(path)
    except Exception as err:
        raise InputError(f"{path}: cannot load with joblib ({type(err).__name__})") from None
    if not hasattr(est, "means_") or not hasattr(est, "covariance_type"):
        raise InputError(f"{path}: not a fitted sklearn GaussianMixture")
    return GMM.from_sklearn(est)


def gmm_to_dict(gmm: GMM) -> dict[str, Any]:
    """The JSON-ready dictionary of a single GMM (schema in the module docstring).

    The weights are renormalised in float64 (see "Precision" in the module docstring).
    """
    if gmm.batch_shape:
        raise ValueError(f"only single GMMs can be saved; batch_shape is {gmm.batch_shape}")
    data = {
        "format": FORMAT_TAG,
        "weights": renormalised(gmm.weights).tolist(),
        "means": np.asarray(gmm.means, float).tolist(),
    }
    if gmm.is_low_rank:
        data["factors"] = np.asarray(gmm.covs.factors, float).tolist()
        data["noise"] = np.asarray(gmm.covs.noise, float).tolist()
    else:
        data["covs"] = np.asarray(gmm.covs, float).tolist()
    return data


def save_gmm(gmm: GMM, path: str | Path) -> None:
    """Write a GMM as JSON (``.json``) or NPZ (``.npz``)."""
    path = Path(path)
    data = gmm_to_dict(gmm)
    if path.suffix.lower() == ".npz":
        np.savez(path, **{k: np.asarray(v) for k, v in data.items() if k != "format"})
    elif path.suffix.lower() == ".json":
        path.write_text(json.dumps(data, indent=1) + "\n")
    else:
        raise InputError(f"{path}: output must end in .json or .npz")


def load_data(path: str | Path) -> np.ndarray:
    """Read samples from ``.npy`` or ``.csv``/``.txt``; returns a finite ``(n, d)`` array."""
    path = check_input_file(path, "data")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            x = np.load(path, allow_pickle=False)
        elif suffix in (".csv", ".txt"):
            x = _read_text_table(path)
        else:
            raise InputError(f"{path}: unknown data file type {suffix!r} (use .npy or .csv)")
    except (OSError, ValueError) as err:
        if isinstance(err, InputError):
            raise
        raise InputError(f"{path}: cannot read data ({err})") from None
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] == 0:
        raise InputError(f"{path}: data must be (n,) or (n, d) with n >= 1; got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise InputError(f"{path}: data contain NaN or inf")
    return x


def _read_text_table(path: Path) -> np.ndarray:
    text = path.read_text().strip().splitlines()
    if not text:
        raise InputError(f"{path}: empty file")
    delimiter = "," if "," in text[0] else None
    skip = 0
    try:
        [float(v) for v in text[0].replace(",", " ").split()]
    except ValueError:
        skip = 1  # a header line
    return np.loadtxt(path, delimiter=delimiter, skiprows=skip, ndmin=2)
