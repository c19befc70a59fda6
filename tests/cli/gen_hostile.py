#!/usr/bin/python3
"""Generates hostile payloads for test_verify_bad_bundles.sh.

Usage: gen_hostile.py MANIFEST.yaml SAMPLE_TREE OUT_DIR

MANIFEST.yaml is the manifest of a bundle really built from SAMPLE_TREE; its files are found
in the tree by their sha256. For each case this writes OUT_DIR/CASE.tar (the uncompressed
payload) and OUT_DIR/CASE.yaml (the manifest template: the manifest without its payload
section, which ferry-forge appends after compressing the tar). Case "good" is the honest file
set and must verify; every other case breaks one thing. OUT_DIR/not-zstd.bin holds bytes that
are not a zstd frame. Prints the case names.

Standard library only (run with Debian's /usr/bin/python3): Python has no zstd, so
compression is left to ferry-forge.
"""

import copy
import hashlib
import io
import os
import re
import sys
import tarfile

MTIME = 1790000000
FILE_KEYS = ["path", "component", "role", "type", "size", "mode", "sha256", "dest", "config_mode"]
QUOTED = {"path", "mode", "dest"}


def parse_manifest(text):
    """Splits the bundler's manifest into the text before `files:` and the files list (the
    bundler's fixed block layout: `  - path: ...` then `    key: value` lines)."""
    head, sep, rest = text.partition("\nfiles:\n")
    if not sep:
        sys.exit("gen_hostile.py: the manifest has no files: section")
    files_text = rest.split("\npayload:\n", 1)[0]
    files = []
    for line in files_text.splitlines():
        m = re.fullmatch(r"  (- |  )(\w+): (.*)", line)
        if not m:
            sys.exit(f"gen_hostile.py: unexpected line in files: {line!r}")
        if m.group(1) == "- ":
            files.append({})
        value = m.group(3)
        if value.startswith('"'):
            value = value[1:-1]
        files[-1][m.group(2)] = value
    return head + "\n", files


def emit_template(head, files):
    """The manifest without its payload section, with FILES in the bundler's layout."""
    out = [head, "files:\n"]
    for f in files:
        first = True
        for key in FILE_KEYS:
            if key not in f:
                continue
            value = f'"{f[key]}"' if key in QUOTED else str(f[key])
            out.append(("  - " if first else "    ") + f"{key}: {value}\n")
            first = False
    return "".join(out)


def contents_by_hash(tree):
    found = {}
    for root, _, names in os.walk(tree):
        for name in names:
            path = os.path.join(root, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as f:
                    data = f.read()
                found[hashlib.sha256(data).hexdigest()] = data
    return found


class Entry:
    """One tar entry to write: a regular file unless KIND says otherwise."""

    def __init__(self, name, data=b"", mode=0o644, kind=tarfile.REGTYPE, link="", pax_path=None):
        self.name, self.data, self.mode, self.kind, self.link = name, data, mode, kind, link
        self.pax_path = pax_path


def write_tar(path, entries, after=b""):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.type = e.kind
            info.mode = e.mode
            info.mtime = MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.linkname = e.link
            if e.kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
                info.devmajor, info.devminor = 1, 3  # /dev/null
            if e.pax_path is not None:
                info.pax_headers = {"path": e.pax_path}
            if e.kind == tarfile.REGTYPE:
                info.size = len(e.data)
                tar.addfile(info, io.BytesIO(e.data))
            else:
                tar.addfile(info)
    with open(path, "wb") as f:
        f.write(buf.getvalue() + after)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    manifest_path, tree, out_dir = sys.argv[1:]
    with open(manifest_path, encoding="utf-8") as f:
        head, files = parse_manifest(f.read())
    blobs = contents_by_hash(tree)
    for f in files:
        if f["sha256"] not in blobs:
            sys.exit(f"gen_hostile.py: {f['path']}: no file with sha256 {f['sha256']} in {tree}")
    data = {f["path"]: blobs[f["sha256"]] for f in files}
    mode = {f["path"]: int(f["mode"], 8) for f in files}
    paths = [f["path"] for f in files]

    def honest():
        return [Entry(p, data[p], mode[p]) for p in paths]

    def replaced(path, entry):
        return [entry if e.name == path else e for e in honest()]

    def with_decoy(before):
        """The honest entries with a second CONFIG entry holding DECOY, before or after it."""
        entries = []
        for e in honest():
            if e.name == config and before:
                entries.append(Entry(config, decoy, mode[config]))
            entries.append(e)
            if e.name == config and not before:
                entries.append(Entry(config, decoy, mode[config]))
        return entries

    binary = next(p for p in paths if "/binary/" in p)
    config = next(p for p in paths if "/config/" in p)
    readme = next(p for p in paths if p.endswith("/README.md"))
    upgrading = next(p for p in paths if p.endswith("/UPGRADING.md"))
    last = paths[-1]
    # A decoy of the config's exact size, so only its hash can give it away.
    decoy = (b"LANGUAGE=en\nADMIN_TOKEN=attacker\n" * 100)[: len(data[config])]
    tampered_readme = bytearray(data[readme])
    tampered_readme[0] ^= 0x20

    cases = {
        "good": honest(),
        "extra-entry": honest() + [Entry(readme.replace("README", "ZZZ-EXTRA"), b"extra\n")],
        "extra-entry-middle": honest()[:1] + [Entry(binary + "-extra", b"#!/bin/sh\n", 0o755)]
        + honest()[1:],
        "missing-entry": honest()[:-1],
        "duplicate-decoy-first": with_decoy(before=True),
        "duplicate-decoy-last": with_decoy(before=False),
        "dotdot-in-tar": replaced(readme, Entry("greeter/doc/../../../../etc/cron.d/ferry-evil",
                                                data[readme])),
        "absolute-in-tar": replaced(config, Entry("/etc/greeter/greeter.env", data[config])),
        "pax-path-override": replaced(readme, Entry(readme, data[readme],
                                                    pax_path="../../etc/cron.d/ferry-evil")),
        "symlink": replaced(readme, Entry(readme, kind=tarfile.SYMTYPE, link="/etc/shadow")),
        "hardlink": replaced(upgrading, Entry(upgrading, kind=tarfile.LNKTYPE, link=readme)),
        "device": replaced(readme, Entry(readme, kind=tarfile.CHRTYPE, mode=0o666)),
        "fifo": replaced(readme, Entry(readme, kind=tarfile.FIFOTYPE)),
        "directory": replaced(readme, Entry(readme, kind=tarfile.DIRTYPE, mode=0o755)),
        "larger-than-declared": replaced(readme, Entry(readme, data[readme] + b"#" * 100)),
        "wrong-sha256": replaced(readme, Entry(readme, bytes(tampered_readme))),
        "setuid-in-tar": replaced(binary, Entry(binary, data[binary], 0o4755)),
    }
    templates = {name: files for name in cases}

    # The manifest itself names a hostile path or mode (the tar agrees with it).
    hostile_manifest = {
        "dotdot-in-manifest": (readme, "greeter/doc/../../../etc/cron.d/ferry-evil", None),
        "absolute-in-manifest": (binary, "/usr/bin/greeter", None),
        "setuid-in-manifest": (binary, binary, 0o4755),
    }
    for name, (target, new_path, new_mode) in hostile_manifest.items():
        listed = copy.deepcopy(files)
        entries = honest()
        for f, e in zip(listed, entries):
            if f["path"] == target:
                f["path"] = e.name = new_path
                if new_mode is not None:
                    f["mode"] = f"0{new_mode:o}"  # "04755": setuid, as a user would write it
                    e.mode = new_mode
        templates[name] = sorted(listed, key=lambda f: f["path"])
        cases[name] = sorted(entries, key=lambda e: e.name)

    after = {
        # Non-zero bytes after the tar's end-of-archive blocks, inside the compressed stream.
        "data-after-tar": b"X" * 512,
        # Zeros compress to almost nothing: a small payload that inflates far past the files.
        "zstd-bomb": bytes(8 << 20),
    }
    for name in after:
        cases[name] = honest()
        templates[name] = files

    os.makedirs(out_dir, exist_ok=True)
    for name, entries in cases.items():
        write_tar(os.path.join(out_dir, name + ".tar"), entries, after.get(name, b""))
        with open(os.path.join(out_dir, name + ".yaml"), "w", encoding="utf-8") as f:
            f.write(emit_template(head, templates[name]))
        print(name)
    # Deterministic bytes that are not a zstd frame (no 28 b5 2f fd magic at the start).
    noise = b"".join(hashlib.sha256(b"not zstd %d" % i).digest() for i in range(4096))
    with open(os.path.join(out_dir, "not-zstd.bin"), "wb") as f:
        f.write(b"NOTZSTD!" + noise)


if __name__ == "__main__":
    main()
