#!/usr/bin/env bash
# Installs everything Slipway needs on Debian 12, when missing: C libraries for the build
# (SQLite, libarchive, libcrypto, libcurl, libseccomp, zlib, libdeflate, libzstd), the sandbox (bubblewrap, and
# slirp4netns for build steps' public network; iproute2 for the test that makes a network), and the real
# components the tests talk to (git, docker-registry, skopeo, umoci, neovim for the plugin, fish for slipctl's completion) plus the Python packages
# the tests use (a non-Slipway JSON-RPC client, jsonschema, cryptography; venv, where the Python
# client's tests install it, and mypy from PyPI).
set -euo pipefail

packages=(
  build-essential pkg-config
  libsqlite3-dev libarchive-dev libssl-dev zlib1g-dev libdeflate-dev libcurl4-openssl-dev libseccomp-dev
  bubblewrap git zip
  docker-registry skopeo umoci apache2-utils openssl curl
  python3 python3-pip python3-venv python3-cryptography python3-jsonschema python3-pylsp-jsonrpc
  libzstd-dev passwd uidmap buildah slirp4netns iproute2 neovim python3-yaml fish
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Debian packages above serve /usr/bin/python3 for every user; a python3 of its own
# (pyenv, say) first on PATH gets them from PyPI.
# The Bearer-token registry test signs tokens with Python's cryptography package.
if ! python3 -c 'import cryptography' 2>/dev/null; then
  python3 -m pip install -q cryptography 2>/dev/null || python3 -m pip install -q --break-system-packages cryptography
fi

# The schema conformance test validates replies against spec/openrpc.json with jsonschema.
if ! python3 -c 'import jsonschema' 2>/dev/null; then
  python3 -m pip install -q jsonschema 2>/dev/null || python3 -m pip install -q --break-system-packages jsonschema
fi

# The test suite drives Slipway with a JSON-RPC client that is not ours.
if ! python3 -c 'import pylsp_jsonrpc' 2>/dev/null; then
  echo "setup: installing python-lsp-jsonrpc"
  python3 -m pip install -q python-lsp-jsonrpc 2>/dev/null || python3 -m pip install -q --break-system-packages python-lsp-jsonrpc
fi

# The SBOM tests read what Slipway exports with third-party SBOM libraries (CycloneDX, SPDX).
if ! python3 -c 'import cyclonedx.validation.json, spdx_tools.spdx.parser.parse_anything' 2>/dev/null; then
  echo "setup: installing cyclonedx-python-lib and spdx-tools"
  python3 -m pip install -q cyclonedx-python-lib spdx-tools 2>/dev/null || python3 -m pip install -q --break-system-packages cyclonedx-python-lib spdx-tools
fi

if ! command -v swift >/dev/null 2>&1; then
  if [ -x /opt/swift/usr/bin/swift ]; then
    echo "setup: add /opt/swift/usr/bin to PATH"
  else
    echo "setup: Swift 6 is required (https://swift.org/install); not found" >&2
    exit 1
  fi
fi
echo "setup: ok"
