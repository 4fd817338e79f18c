#!/usr/bin/env bash
# Assembles a small CNB stack from this machine's own binaries, with no network:
#   OUT/build  - build image root filesystem (bash, coreutils, sed, grep, find, tar, gzip, …)
#   OUT/run    - run image root filesystem (bash and coreutils)
# Each gets the binaries' shared libraries, /etc/passwd with the cnb user (1000:1000), /tmp
# and /home/cnb. Give the folders to clusterstack/create as buildImage/runImage
# ("rootfs:OUT/build" or just the absolute path).
set -euo pipefail
out="${1:?usage: make-stack.sh OUTDIR}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

run_tools=(bash sh env cat echo ls cp mv rm mkdir rmdir ln chmod touch head tail wc sort uniq tr cut
           date basename dirname id pwd printf test true false uname readlink realpath seq tee sleep expr truncate dd)
build_tools=("${run_tools[@]}" mkfifo sed grep find xargs tar gzip gunzip diff cmp stat du md5sum sha256sum install chown)

# Where a host path goes in a merged-/usr root.
canonical() {
  case "$1" in
    /lib64/*) echo "/usr${1}" ;;
    /lib/*) echo "/usr${1}" ;;
    /bin/*) echo "/usr${1}" ;;
    /sbin/*) echo "/usr${1}" ;;
    *) echo "$1" ;;
  esac
}

copy_file() { # host path, root
  local src="$1" root="$2" dst
  dst="$root$(canonical "$src")"
  [ -e "$dst" ] && return 0
  mkdir -p "$(dirname "$dst")"
  cp -L "$src" "$dst"
}

assemble() { # root, tools...
  local root="$1"; shift
  rm -rf "$root"
  mkdir -p "$root"/{usr/bin,usr/lib,usr/lib64,etc,tmp,home/cnb,workspace,layers,platform,cnb}
  for l in bin lib lib64 sbin; do ln -sfn "usr/$l" "$root/$l"; done
  mkdir -p "$root/usr/sbin"
  chmod 1777 "$root/tmp"
  for tool in "$@"; do
    local path
    path="$(type -P "$tool" || true)"
    [ -n "$path" ] || { echo "make-stack: '$tool' not found on this machine, skipped" >&2; continue; }
    path="$(readlink -f "$path")"
    local dst="$root/usr/bin/$tool"
    cp -L "$path" "$dst"
    # Shared libraries, including the dynamic loader.
    { ldd "$path" 2>/dev/null || true; } | { grep -oE '/[^ ]+' || true; } | while read -r lib; do
      if [ -e "$lib" ]; then copy_file "$lib" "$root"; fi
    done
  done
  cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/bash
cnb:x:1000:1000:cnb:/home/cnb:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
PASSWD
  cat > "$root/etc/group" <<'GROUP'
root:x:0:
cnb:x:1000:
nogroup:x:65534:
GROUP
  echo "slipway-host-stack" > "$root/etc/slipway-stack"
}

assemble "$out/build" "${build_tools[@]}"
assemble "$out/run" "${run_tools[@]}"
echo "stack assembled in $out (build: $(du -sh "$out/build" | cut -f1), run: $(du -sh "$out/run" | cut -f1))"
