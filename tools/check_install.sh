#!/usr/bin/env bash
# Build the wheel, install it alone in a new virtual environment, and check what a user gets:
#   - the wheel holds gmmjax/py.typed and the LICENSE;
#   - without extras the distances work, and `gmmjax demo` / `gmmjax fit --plot` stop at once
#     with exit status 2 and one line naming gmmjax[plot];
#   - with the plot and sklearn extras both commands work.
# Usage: tools/check_install.sh [WORKDIR]   (needs network access to the package index)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
python="${PYTHON:-python3}"
export XLA_FLAGS="${XLA_FLAGS:---xla_cpu_enable_concurrency_optimized_scheduler=false}"
echo "working in $work"

"$python" -m venv "$work/build-env"
"$work/build-env/bin/pip" install --quiet build
"$work/build-env/bin/python" -m build --wheel --outdir "$work/dist" "$root" >/dev/null
wheel="$(ls "$work"/dist/gmmjax-*.whl)"
echo "wheel: $(basename "$wheel")"
"$work/build-env/bin/python" - "$wheel" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
for wanted in ("gmmjax/py.typed", "LICENSE"):
    found = [n for n in names if n.endswith(wanted)]
    assert found, f"{wanted} missing from the wheel"
    print(f"  contains {found[0]}")
PY

"$python" -m venv "$work/user"
user="$work/user/bin"
"$user/pip" install --quiet -c "$root/constraints.txt" "$wheel"
cd "$work"
"$user/python" - <<'PY'
import gmmjax as gj
p = gj.GMM.univariate([0.5, 0.5], [-1.0, 1.0], [1.0, 1.0])
q = gj.GMM.univariate([1.0], [0.0], [2.0])
print("  no extras: l2 %.6f  mw2 %.6f" % (gj.l2_distance(p, q), gj.mw2_distance(p, q)))
PY
"$user/python" -c "import numpy as np; np.save('x.npy', np.random.default_rng(0).normal(size=500))"
expect_missing_plot() {
  set +e
  err="$("$user/gmmjax" "$@" 2>&1 >/dev/null)"
  code=$?
  set -e
  test "$code" = 2 || { echo "exit $code for: gmmjax $*"; exit 1; }
  test "$(printf '%s\n' "$err" | wc -l)" = 1 || { echo "not one line: $err"; exit 1; }
  case "$err" in *"gmmjax[plot]"*) ;; *) echo "no extra named: $err"; exit 1 ;; esac
  echo "  no extras: gmmjax $* -> exit 2: $err"
}
expect_missing_plot demo --out demo-out
test ! -e demo-out || { echo "demo left a folder behind"; exit 1; }
expect_missing_plot fit x.npy --components 10 --out m.json --plot fit.png
test ! -e m.json || { echo "fit wrote a model"; exit 1; }

"$user/pip" install --quiet -c "$root/constraints.txt" "$wheel[plot,sklearn]"
"$user/gmmjax" fit x.npy --components 10 --steps 50 --quiet --out m.json --plot fit.png >/dev/null
test -s m.json && test -s fit.png
echo "  with [plot,sklearn]: gmmjax fit --plot wrote m.json and fit.png"
"$user/gmmjax" demo --out demo-out >/dev/null
test -s demo-out/report.md
echo "  with [plot,sklearn]: gmmjax demo wrote $(ls demo-out | wc -l) files"
echo "ok"
