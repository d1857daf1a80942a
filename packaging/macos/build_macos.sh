#!/usr/bin/env bash
# Build the macOS app of Fine-Tuning Studio and its disk image. Runs on a Mac (Apple silicon or Intel: the app
# is built for the machine's architecture, with the torch wheel pip picks there, which uses MPS on Apple silicon).
#
#   packaging/macos/build_macos.sh [--clean] [--venv DIR] [--python PYTHON]
#
#   --clean          recreate the build environment and PyInstaller's work folder
#   --venv DIR       build with this existing environment instead of build/packaging/venv
#   --python PYTHON  the interpreter the build environment is made from (default: python3)
#
# Environment:
#   CODESIGN_IDENTITY  "Developer ID Application: NAME (TEAMID)" to sign with the hardened runtime; unset: ad hoc
#   NOTARY_PROFILE     a `xcrun notarytool store-credentials` keychain profile: notarize and staple the .dmg
#   PIP_ARGS, PYINSTALLER_SPEC   as in packaging/build_linux.sh
#
# Makes dist/Fine-Tuning Studio.app (with the `studio` CLI in Contents/MacOS) and
# dist/fine-tuning-studio-<version>-macos-<arch>.dmg (the app and a link to /Applications).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

PYTHON=python3
VENV=build/packaging/venv
OWN_VENV=1
CLEAN=0
while [ $# -gt 0 ]; do
    case "$1" in
        --clean) CLEAN=1 ;;
        --venv) VENV="${2:?--venv needs a folder}"; OWN_VENV=0; shift ;;
        --python) PYTHON="${2:?--python needs an interpreter}"; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[ "$(uname -s)" = Darwin ] || { echo "error: build the macOS app on macOS" >&2; exit 2; }

WORKPATH=build/pyinstaller
APP="dist/Fine-Tuning Studio.app"
say() { printf '\n== %s\n' "$*"; }

if [ "$CLEAN" = 1 ]; then
    rm -rf "$WORKPATH" "$APP" dist/fine-tuning-studio
    [ "$OWN_VENV" = 1 ] && rm -rf "$VENV"
fi
PY="$VENV/bin/python"
if [ "$OWN_VENV" = 1 ]; then
    [ -x "$PY" ] || "$PYTHON" -m venv "$VENV"
    say "installing the project and PyInstaller into $VENV"
    # shellcheck disable=SC2086 # PIP_ARGS is a list of arguments
    "$PY" -m pip install --disable-pip-version-check -q -c constraints.txt ${PIP_ARGS:-} . \
        "pyinstaller${PYINSTALLER_SPEC:->=6.10,<7}"
elif ! "$PY" -c "import PyInstaller" 2>/dev/null; then
    "$PY" -m pip install --disable-pip-version-check -q "pyinstaller${PYINSTALLER_SPEC:->=6.10,<7}"
fi

say "PyInstaller"
"$PY" -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath "$WORKPATH" packaging/studio.spec
VERSION="$("$PY" packaging/version.py)"
"$APP/Contents/MacOS/studio" --version
codesign --verify --deep --strict "$APP"
echo "app: $APP ($(du -sh "$APP" | cut -f1))"

ARCH="$(uname -m)"
DMG="dist/fine-tuning-studio-$VERSION-macos-$ARCH.dmg"
say "disk image $DMG"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
rm -f "$DMG"
# LZFSE-compressed (macOS 10.11 and later; the app needs 12 anyway).
hdiutil create -volname "Fine-Tuning Studio $VERSION" -srcfolder "$STAGE" -fs HFS+ -format ULFO -ov "$DMG"
if [ -n "${CODESIGN_IDENTITY:-}" ]; then
    codesign --force --timestamp --sign "$CODESIGN_IDENTITY" "$DMG"
fi
if [ -n "${NOTARY_PROFILE:-}" ]; then
    say "notarizing"
    xcrun notarytool submit "$DMG" --keychain-profile "$NOTARY_PROFILE" --wait
    xcrun stapler staple "$DMG"
fi
echo "$(du -h "$DMG" | cut -f1)  $DMG"
echo "smoke test: python3 packaging/smoke_test.py \"$APP\""
