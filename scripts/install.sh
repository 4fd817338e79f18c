#!/usr/bin/env bash
# Installs Slipway under PREFIX so that its programs find each other wherever they are run from:
#
#   PREFIX/libexec/slipway/  slipway, slipway-engine, slipway-launcher, slipway-userns, slipctl
#                            and the engine's resource bundles (*.resources), side by side, as
#                            each finds the next: slipway starts slipway-engine beside it, the
#                            engine puts slipway-launcher beside it into images and runs
#                            slipway-userns beside the launcher, slipctl runs slipway beside it.
#   PREFIX/bin/              slipway and slipctl, symbolic links into libexec: each resolves its
#                            own path (/proc/self/exe), so a further link (`ln -s …/slipctl ~/bin/kp`)
#                            or a PATH entry still finds the rest.
#
# Usage: scripts/install.sh PREFIX [BUILD_DIR]   (BUILD_DIR: the built binaries, default
# .build/release; `make install PREFIX=…` builds the release first).
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ -z "$1" ]; then
    echo "usage: $0 PREFIX [BUILD_DIR]   (e.g. $0 \$HOME/.local .build/release)" >&2
    exit 2
fi
prefix=$1
build_dir=${2:-.build/release}
programs=(slipway slipway-engine slipway-launcher slipway-userns slipctl)

for program in "${programs[@]}"; do
    if [ ! -x "$build_dir/$program" ]; then
        echo "install: $build_dir/$program is missing; build first (swift build -c release, or make install PREFIX=$prefix)" >&2
        exit 1
    fi
done

libexec=$prefix/libexec/slipway
mkdir -p "$libexec" "$prefix/bin"
for program in "${programs[@]}"; do
    # Replaced, not written over: an engine that runs the old file keeps running it.
    install -m 0755 "$build_dir/$program" "$libexec/.$program.new"
    mv -f "$libexec/.$program.new" "$libexec/$program"
done
shopt -s nullglob
for bundle in "$build_dir"/*.resources; do
    rm -rf "$libexec/$(basename "$bundle")"
    cp -R "$bundle" "$libexec/"
done
for program in slipway slipctl; do
    ln -sfn "../libexec/slipway/$program" "$prefix/bin/$program"
done
echo "installed slipway and slipctl in $prefix/bin (programs in $libexec); put $prefix/bin on PATH"
