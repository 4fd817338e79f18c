"""Lists a root filesystem for comparison: one line per path, sorted, with its type, link
target, size, permission bits, owner, group and content digest (no times).

usage: tree_listing.py ROOT [EXCLUDE...]
"""
import hashlib
import os
import stat
import sys

root = sys.argv[1]
exclude = set(sys.argv[2:])
lines = []
for dirpath, dirnames, filenames in os.walk(root):
    rel_dir = os.path.relpath(dirpath, root)
    for name in sorted(dirnames + filenames):
        full = os.path.join(dirpath, name)
        rel = os.path.normpath(os.path.join(rel_dir, name))
        if rel in exclude or rel.split("/")[0] in exclude:
            continue
        st = os.lstat(full)
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            kind, extra = "l", os.readlink(full)
        elif stat.S_ISDIR(st.st_mode):
            kind, extra = "d", ""
        elif stat.S_ISREG(st.st_mode):
            with open(full, "rb") as f:
                kind, extra = "f", hashlib.sha256(f.read()).hexdigest()[:16] + f" {st.st_size}"
        else:
            kind, extra = "o", ""
        lines.append(f"{kind} {rel} {extra} {mode:o} {st.st_uid}:{st.st_gid}")
    dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
print("\n".join(sorted(lines)))
