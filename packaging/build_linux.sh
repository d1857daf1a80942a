#!/usr/bin/env bash
# Build the Linux bundle of Fine-Tuning Studio, its portable tarball and its .deb.
#
#   packaging/build_linux.sh [--clean] [--venv DIR] [--python PYTHON] [--no-build] [--no-deb] [--no-tarball]
#
#   --clean          recreate the build environment and PyInstaller's work folder from scratch
#   --venv DIR       build with this existing environment (e.g. .venv) instead of build/packaging/venv;
#                    only PyInstaller is added to it, the project and its dependencies are taken as installed
#   --python PYTHON  the interpreter the build environment is made from (default: python3)
#   --no-build       package the bundle already in dist/fine-tuning-studio again (no pip, no PyInstaller)
#   --no-deb, --no-tarball   leave that package out
#
# Environment: PIP_ARGS (extra pip arguments, e.g. "--extra-index-url https://download.pytorch.org/whl/cpu"),
# PYINSTALLER_SPEC (default ">=6.10,<7"), DEB_COMPRESSION (dpkg-deb -Z: xz, zstd, gzip; default xz),
# DEB_MAINTAINER ("Name <email>" for the .deb's control file).
#
# Makes, in dist/:
#   fine-tuning-studio/                                 the PyInstaller folder (run ./fine-tuning-studio or ./studio)
#   fine-tuning-studio-<version>-linux-x86_64.tar.gz    the portable tarball of that folder
#   fine-tuning-studio_<version>_amd64.deb              /opt/fine-tuning-studio, /usr/bin/studio and
#                                                       /usr/bin/fine-tuning-studio, a desktop entry and icons
# The bundle takes whatever torch the environment has: constraints.txt pins the CPU build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON=python3
VENV=build/packaging/venv
OWN_VENV=1
CLEAN=0
MAKE_DEB=1
MAKE_TARBALL=1
BUILD=1
while [ $# -gt 0 ]; do
    case "$1" in
        --clean) CLEAN=1 ;;
        --venv) VENV="${2:?--venv needs a folder}"; OWN_VENV=0; shift ;;
        --python) PYTHON="${2:?--python needs an interpreter}"; shift ;;
        --no-build) BUILD=0 ;;
        --no-deb) MAKE_DEB=0 ;;
        --no-tarball) MAKE_TARBALL=0 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

WORKPATH=build/pyinstaller
STAGING=build/packaging/deb
DIST=dist
BUNDLE="$DIST/fine-tuning-studio"
say() { printf '\n== %s\n' "$*"; }

PY="$VENV/bin/python"
VERSION="$("$PYTHON" packaging/version.py)"

if [ "$BUILD" = 1 ]; then
# --- the build environment ---------------------------------------------------------------------------------------
if [ "$CLEAN" = 1 ]; then
    say "clean"
    rm -rf "$WORKPATH" "$STAGING" "$BUNDLE"
    if [ "$OWN_VENV" = 1 ]; then rm -rf "$VENV"; fi
fi
pip_install() {
    # Quiet, but the whole log on failure; pip's notes about local package indexes some machines configure are noise.
    local log; log="$(mktemp)"
    if ! "$PY" -m pip install --disable-pip-version-check -q "$@" >"$log" 2>&1; then
        cat "$log" >&2; rm -f "$log"; return 1
    fi
    grep -v "^WARNING: Location '" "$log" || true
    rm -f "$log"
}
if [ "$OWN_VENV" = 1 ]; then
    if [ ! -x "$PY" ]; then
        say "creating the build environment $VENV ($("$PYTHON" --version))"
        "$PYTHON" -m venv "$VENV"
    fi
    say "installing the project and PyInstaller into $VENV"
    # shellcheck disable=SC2086 # PIP_ARGS is a list of arguments
    pip_install -c constraints.txt ${PIP_ARGS:-} . "pyinstaller${PYINSTALLER_SPEC:->=6.10,<7}"
else
    [ -x "$PY" ] || { echo "error: no Python environment at $VENV" >&2; exit 2; }
    if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
        say "adding PyInstaller to $VENV"
        pip_install "pyinstaller${PYINSTALLER_SPEC:->=6.10,<7}"
    fi
fi
"$PY" - <<'EOF'
import torch, transformers, PySide6
print(f"torch {torch.__version__}, transformers {transformers.__version__}, PySide6 {PySide6.__version__}")
EOF

# --- the bundle --------------------------------------------------------------------------------------------------
say "PyInstaller (work folder $WORKPATH)"
# From the work folder, so that the checkout's studio/ (without studio/resources) is not on the path; the spec
# stages the package itself.
"$PY" -m PyInstaller --noconfirm --log-level WARN --distpath "$ROOT/$DIST" --workpath "$ROOT/$WORKPATH" \
    "$ROOT/packaging/studio.spec"
fi  # BUILD

[ -x "$BUNDLE/studio" ] || { echo "error: no bundle in $BUNDLE (build it first)" >&2; exit 2; }
if [ "$("$BUNDLE/studio" --version)" != "studio $VERSION" ]; then
    echo "error: $BUNDLE is not version $VERSION" >&2; exit 1
fi
echo "bundle: $BUNDLE ($(du -sh "$BUNDLE" | cut -f1)), version $VERSION"

# Libraries the bundle leaves to the system: the .deb depends on their packages (fails on an unknown one).
say "system libraries the bundle needs"
"$PYTHON" packaging/linux/host_libs.py --list "$BUNDLE"
DEPENDS="$("$PYTHON" packaging/linux/host_libs.py "$BUNDLE")"
RECOMMENDS="$("$PYTHON" packaging/linux/host_libs.py --recommends "$BUNDLE")"

# --- the portable tarball ----------------------------------------------------------------------------------------
if [ "$MAKE_TARBALL" = 1 ]; then
    TARBALL="$DIST/fine-tuning-studio-$VERSION-linux-x86_64.tar.gz"
    say "tarball $TARBALL"
    # The top folder gets the version; symlink targets (studio -> fine-tuning-studio) stay as they are (S).
    tar --create --directory "$DIST" --sort=name --owner=0 --group=0 --numeric-owner \
        --transform "s,^fine-tuning-studio,fine-tuning-studio-$VERSION,S" fine-tuning-studio \
        | gzip -6 > "$TARBALL.part"
    mv "$TARBALL.part" "$TARBALL"
    echo "$(du -h "$TARBALL" | cut -f1)  $TARBALL"
fi

# --- the .deb ----------------------------------------------------------------------------------------------------
if [ "$MAKE_DEB" = 1 ]; then
    DEB="$DIST/fine-tuning-studio_${VERSION}_amd64.deb"
    say "deb $DEB"
    rm -rf "$STAGING"
    mkdir -p "$STAGING/DEBIAN" "$STAGING/opt" "$STAGING/usr/bin" "$STAGING/usr/share/applications" \
        "$STAGING/usr/share/icons/hicolor" "$STAGING/usr/share/doc/fine-tuning-studio"
    cp -a "$BUNDLE" "$STAGING/opt/fine-tuning-studio"
    # The bundle's executable acts by the name it is started as (studio: the CLI), and finds its _internal folder
    # through symlinks.
    ln -s ../../opt/fine-tuning-studio/studio "$STAGING/usr/bin/studio"
    ln -s ../../opt/fine-tuning-studio/fine-tuning-studio "$STAGING/usr/bin/fine-tuning-studio"
    install -m 644 packaging/linux/fine-tuning-studio.desktop "$STAGING/usr/share/applications/"
    "$PY" packaging/icons.py hicolor "$STAGING/usr/share/icons/hicolor"
    {
        echo "Fine-Tuning Studio $VERSION, Apache-2.0."
        echo "It bundles Python, PyTorch, Hugging Face transformers and datasets, Qt for Python (LGPLv3),"
        echo "pyqtgraph, scikit-learn and their dependencies under their own licences; the built-in model"
        echo "is sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0)."
        echo
        cat resources/sample_sms_spam_NOTICE.txt
    } > "$STAGING/usr/share/doc/fine-tuning-studio/copyright"
    INSTALLED_SIZE="$(du -sk --exclude=DEBIAN "$STAGING" | cut -f1)"
    MAINTAINER="${DEB_MAINTAINER:-Fine-Tuning Studio developers <maintainers@fine-tuning-studio.invalid>}"
    sed -e "s|@VERSION@|$VERSION|" -e "s|@INSTALLED_SIZE@|$INSTALLED_SIZE|" -e "s|@DEPENDS@|$DEPENDS|" \
        -e "s|@RECOMMENDS@|${RECOMMENDS:+$RECOMMENDS, }|" \
        -e "s|@MAINTAINER@|$MAINTAINER|" packaging/linux/control.in > "$STAGING/DEBIAN/control"
    chmod -R u+rwX,go+rX,go-w "$STAGING"
    dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-xz}" --build "$STAGING" "$DEB.part" >/dev/null
    mv "$DEB.part" "$DEB"
    echo "$(du -h "$DEB" | cut -f1)  $DEB"
    dpkg-deb --info "$DEB" | sed -n '/Package:/,$p'
fi

say "done"
echo "smoke test: python3 packaging/smoke_test.py $BUNDLE"
