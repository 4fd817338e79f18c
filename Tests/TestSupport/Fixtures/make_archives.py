"""Writes hostile and well-formed source archives into a folder, for the bad-input tests.

usage: make_archives.py OUTDIR
"""
import io
import os
import sys
import tarfile
import zipfile

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def tar(name, entries, mode="w"):
    with tarfile.open(os.path.join(out, name), mode) as t:
        for e in entries:
            kind, path = e[0], e[1]
            info = tarfile.TarInfo(path)
            if kind == "file":
                data = e[2].encode()
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = e[2]
                t.addfile(info)


ok_files = [("file", "Procfile", "web: ./bin/hello\n"), ("file", "build.sh", "mkdir -p bin; printf '#!/usr/bin/env bash\\necho from-archive\\n' > bin/hello; chmod +x bin/hello\n")]
tar("dotdot.tar", ok_files + [("file", "../escape.txt", "x")])
tar("absolute.tar.gz", ok_files + [("file", "/tmp/slipway-absolute-escape.txt", "x")], "w:gz")
tar("symlink-out.tar", ok_files + [("symlink", "link", "../../../etc/passwd")])
tar("symlink-abs.tar", ok_files + [("symlink", "link", "/etc/passwd")])
tar("good.tar.gz", ok_files, "w:gz")
with zipfile.ZipFile(os.path.join(out, "dotdot.zip"), "w") as z:
    z.writestr("Procfile", "web: x\n")
    z.writestr("../../zip-escape.txt", "x")
for name in ("good.zip", "good.jar"):
    with zipfile.ZipFile(os.path.join(out, name), "w") as z:
        for _, path, data in ok_files:
            info = zipfile.ZipInfo(path)
            info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--, as in the tar
            z.writestr(info, data)
