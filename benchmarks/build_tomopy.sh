#!/usr/bin/env bash
# Build TomoPy 1.15.x from its git source into a throw-away virtual environment OUTSIDE
# this repository, for the side-by-side benchmarks only (never a dependency, never in CI).
#
#   bash benchmarks/build_tomopy.sh [VENV] [SOURCE]
#
# VENV    where the venv goes (default /work/tomopy-venv); it must not lie inside the repository.
# SOURCE  a TomoPy git repository or clone URL (default https://github.com/tomopy/tomopy);
#         the tag $TOMOPY_TAG (default 1.15.2) is checked out in a fresh clone under VENV/src.
#
# libtomo is built with CMake against Debian's FFTW (apt-get install -y libfftw3-dev cmake g++)
# with MKL, CUDA and OpenCV off, and installed into VENV/lib; the Python part is installed with
# SETUPTOOLS_SCM_PRETEND_VERSION (no version from git needed). VENV/bin/tomopy-python runs the
# venv's Python with LD_LIBRARY_PATH set so that TomoPy finds libtomo: give it to the benchmarks
# as --tomopy-python VENV/bin/tomopy-python.
set -euo pipefail

HERE="$(cd "$(dirname "$0")/.." && pwd)"
VENV="$(realpath -m "${1:-/work/tomopy-venv}")"
SOURCE="${2:-https://github.com/tomopy/tomopy}"
TAG="${TOMOPY_TAG:-1.15.2}"
PY="${PYTHON:-python3}"

case "$VENV/" in
  "$HERE"/*) echo "build_tomopy.sh: $VENV lies inside the repository; choose a folder outside it" >&2; exit 2 ;;
esac
for tool in cmake g++; do
  command -v "$tool" >/dev/null || { echo "build_tomopy.sh: $tool missing (apt-get install -y libfftw3-dev cmake g++)" >&2; exit 2; }
done
[ -e /usr/include/fftw3.h ] || { echo "build_tomopy.sh: FFTW headers missing (apt-get install -y libfftw3-dev)" >&2; exit 2; }

"$PY" -m venv "$VENV"
SRC="$VENV/src/tomopy"
rm -rf "$SRC"
git clone --quiet "$SOURCE" "$SRC"
git -C "$SRC" -c advice.detachedHead=false checkout --quiet "$TAG"

cmake -S "$SRC" -B "$SRC/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$VENV" \
  -DCMAKE_INSTALL_LIBDIR=lib -DTOMOPY_USE_MKL=OFF -DTOMOPY_USE_CUDA=OFF -DTOMOPY_USE_OPENCV=OFF \
  -DTOMOPY_USE_TIMEMORY=OFF -DTOMOPY_USE_GPERF=OFF >"$VENV/cmake-configure.log"
cmake --build "$SRC/build" -j "$(nproc)" >"$VENV/cmake-build.log"
cmake --install "$SRC/build" >"$VENV/cmake-install.log"

"$VENV/bin/pip" install -q numpy scipy scikit-image numexpr PyWavelets tifffile h5py setuptools setuptools-scm wheel
SETUPTOOLS_SCM_PRETEND_VERSION="$TAG" "$VENV/bin/pip" install -q --no-deps --no-build-isolation "$SRC"

cat >"$VENV/bin/tomopy-python" <<EOF
#!/usr/bin/env bash
export LD_LIBRARY_PATH="$VENV/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
exec "$VENV/bin/python" "\$@"
EOF
chmod +x "$VENV/bin/tomopy-python"
"$VENV/bin/tomopy-python" -c "import tomopy; print('tomopy', tomopy.__version__, 'from', tomopy.__file__)"
echo "use: --tomopy-python $VENV/bin/tomopy-python"
