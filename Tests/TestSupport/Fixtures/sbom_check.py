#!/usr/bin/env python3
"""Validates the SBOM documents under a folder (layers/sbom/... as `pack sbom download` and
`slipctl build sbom` write them) with third-party SBOM libraries: CycloneDX with
cyclonedx-python-lib's JSON schema validator, SPDX with spdx-tools' parser and validator.
Prints one JSON object: for each file (relative path) its format and what it names (component
or package names, SPDX file names). Exits 1 when a document does not validate."""
import json
import os
import sys

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document


def check_cdx(path):
    text = open(path, encoding="utf-8").read()
    doc = json.loads(text)
    version = SchemaVersion.from_version(doc.get("specVersion", "1.4"))
    error = JsonStrictValidator(version).validate_str(text)
    if error is not None:
        raise ValueError(f"{path}: not valid CycloneDX {version}: {error}")
    return {"format": "cdx", "names": sorted(c["name"] for c in doc.get("components", []))}


def check_spdx(path):
    document = parse_file(path)
    messages = validate_full_spdx_document(document)
    if messages:
        raise ValueError(f"{path}: not valid SPDX: " + "; ".join(m.validation_message for m in messages[:5]))
    return {
        "format": "spdx",
        "names": sorted(p.name for p in document.packages),
        "files": {f.name: {c.algorithm.name: c.value for c in f.checksums} for f in document.files},
    }


def main():
    root = sys.argv[1]
    found = {}
    failed = False
    for folder, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            try:
                if name.endswith(".cdx.json"):
                    found[rel] = check_cdx(path)
                elif name.endswith(".spdx.json"):
                    found[rel] = check_spdx(path)
            except Exception as e:  # noqa: BLE001 - any failure is a document that does not validate
                found[rel] = {"error": str(e)}
                failed = True
    print(json.dumps(found, sort_keys=True))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
