#!/usr/bin/python3
"""Writes the seed inputs of fuzz_payload (and the pax-header seed of fuzz_bundle).

Usage: make_payload_seeds.py CORPUS_DIR [TINY_BUNDLE]

A fuzz_payload input is one option byte and the payload (see fuzz_payload.cpp): 0x00 and an
uncompressed tar, 0x01 and raw zstd data, 0x02 and a tar checked against a fixed file list.
The tars come from GNU tar and from Python's tarfile, in ustar, GNU and pax formats, with long
names, symlinks, hardlinks, folders, special files, sparse files and unsafe names. With
TINY_BUNDLE (a small signed bundle), also writes CORPUS_DIR/../bundle/pax-size-header.ferry:
that bundle with its payload member announced by a pax size header, as for payloads of 8 GiB
or more.
"""

import io
import os
import struct
import subprocess
import sys
import tarfile
import tempfile

FILES = {
    "app/binary/app": (b"#!/bin/sh\necho hello\n", 0o755),
    "app/config/app.env": (b"PORT=8080\n", 0o644),
    "app/doc/README.md": (b"# app\nA tiny sample.\n", 0o644),
}


def write(corpus, name, option, data):
    path = os.path.join(corpus, name)
    with open(path, "wb") as f:
        f.write(bytes([option]) + data)
    assert os.path.getsize(path) < 64 * 1024, path


def make_tree(root):
    for rel, (content, mode) in FILES.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content)
        os.chmod(path, mode)


def gnu_tar(root, args, names):
    return subprocess.run(
        ["tar", "-C", root, "--owner=0", "--group=0", "--numeric-owner", "--mtime=@1767225600",
         "-b", "1", "-cf", "-", *args, *names],
        check=True, stdout=subprocess.PIPE).stdout


def py_tar(fmt, entries):
    """ENTRIES: (name, type, content, mode, linkname)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for name, kind, content, mode, link in entries:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.mode = mode
            info.mtime = 1767225600
            info.linkname = link
            if kind == tarfile.REGTYPE:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
            else:
                tar.addfile(info)
    return out.getvalue()


def regular(name, content=b"data\n", mode=0o644):
    return (name, tarfile.REGTYPE, content, mode, "")


def zstd(data):
    return subprocess.run(["zstd", "-q", "-c", "-1"], input=data, check=True,
                           stdout=subprocess.PIPE).stdout


def payload_seeds(corpus):
    with tempfile.TemporaryDirectory() as root:
        make_tree(root)
        names = sorted(FILES)
        plain = gnu_tar(root, ["--format=ustar"], names)
        write(corpus, "gnu-ustar.tar", 0, plain)
        write(corpus, "gnu-ustar.tar.zst", 1, zstd(plain))
        write(corpus, "gnu-ustar-fixed-list.tar", 2, plain)
        # Folder entries before the files, as `tar -cf x.tar app` writes them.
        write(corpus, "gnu-with-folders.tar", 0, gnu_tar(root, ["--format=gnu"], ["app"]))

        long_rel = "app/doc/" + "a-rather-long-folder-name/" * 5 + "NOTES.md"
        long_path = os.path.join(root, long_rel)
        os.makedirs(os.path.dirname(long_path), exist_ok=True)
        with open(long_path, "wb") as f:
            f.write(b"long name\n")
        write(corpus, "gnu-longname.tar", 0, gnu_tar(root, ["--format=gnu"], [long_rel]))
        write(corpus, "gnu-pax-longname.tar", 0, gnu_tar(root, ["--format=posix"], [long_rel]))

        sparse = os.path.join(root, "app/image/disk.img")
        os.makedirs(os.path.dirname(sparse), exist_ok=True)
        with open(sparse, "wb") as f:
            f.write(b"head")
            f.seek(256 * 1024)
            f.write(b"tail")
        write(corpus, "gnu-sparse.tar", 0,
              gnu_tar(root, ["--format=posix", "--sparse"], ["app/image/disk.img"]))

    write(corpus, "py-pax-longname.tar", 0, py_tar(tarfile.PAX_FORMAT, [
        regular("app/binary/app", *FILES["app/binary/app"]),
        regular("app/doc/" + "n" * 180 + ".md", b"pax path record\n"),
    ]))
    write(corpus, "py-symlinks.tar", 0, py_tar(tarfile.USTAR_FORMAT, [
        regular("app/binary/app", *FILES["app/binary/app"]),
        ("app/doc/escape", tarfile.SYMTYPE, b"", 0o777, "../../../../etc/passwd"),
        ("app/doc/local", tarfile.SYMTYPE, b"", 0o777, "../binary/app"),
    ]))
    write(corpus, "py-hardlink.tar", 0, py_tar(tarfile.GNU_FORMAT, [
        regular("app/binary/app", *FILES["app/binary/app"]),
        ("app/doc/hard", tarfile.LNKTYPE, b"", 0o644, "app/binary/app"),
    ]))
    write(corpus, "py-special-files.tar", 0, py_tar(tarfile.USTAR_FORMAT, [
        ("app/doc/fifo", tarfile.FIFOTYPE, b"", 0o644, ""),
        ("app/doc/null", tarfile.CHRTYPE, b"", 0o666, ""),
        regular("app/doc/z", b"after the specials\n"),
    ]))
    write(corpus, "py-unsafe-names.tar", 2, py_tar(tarfile.USTAR_FORMAT, [
        regular("app/binary/app", *FILES["app/binary/app"]),
        regular("app/config/../../../tmp/evil", b"escape\n"),
        regular("/app/doc/README.md", b"absolute\n"),
    ]))
    write(corpus, "py-setuid.tar", 0, py_tar(tarfile.USTAR_FORMAT, [
        regular("app/binary/app", FILES["app/binary/app"][0], 0o4755),
    ]))
    write(corpus, "py-nested.tar", 0, py_tar(tarfile.PAX_FORMAT, [
        regular("app/doc/guide", b"a file\n"),
        regular("app/doc/guide.d/part", b"a file below a sibling\n"),
        regular("app/doc/z", b"last\n"),
    ]))


def header(name, size, kind):
    b = bytearray(512)
    b[0:len(name)] = name
    b[100:108] = b"0000644\0"
    b[108:116] = b"0000000\0"
    b[116:124] = b"0000000\0"
    b[124:136] = b"%011o\0" % size
    b[136:148] = b"15121573000\0"
    b[156:157] = kind
    b[257:265] = b"ustar\x0000"
    b[329:337] = b"0000000\0"
    b[337:345] = b"0000000\0"
    b[148:156] = b" " * 8
    b[148:155] = b"%06o\0" % sum(b)
    b[155:156] = b" "
    return bytes(b)


def pax_bundle(tiny, out):
    """TINY with a pax size header before its payload member (the size is then 8 GiB)."""
    data = open(tiny, "rb").read()
    at = 0
    while data[at:at + 15] != b"payload.tar.zst":
        size = int(data[at + 124:at + 135], 8)
        at += 512 + (size + 511) // 512 * 512
    payload_size = int(data[at + 124:at + 135], 8)
    record = b" size=%d\n" % (8 << 30)
    record = b"%d" % (len(record) + 2) + record
    assert int(record.split(b" ")[0]) == len(record)
    pax = header(b"PaxHeaders/payload", len(record), b"x") + record.ljust(512, b"\0")
    body = data[at + 512:at + 512 + (payload_size + 511) // 512 * 512]
    with open(out, "wb") as f:
        f.write(data[:at] + pax + header(b"payload.tar.zst", 0, b"0") + body + b"\0" * 1024)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    corpus = sys.argv[1]
    os.makedirs(corpus, exist_ok=True)
    payload_seeds(corpus)
    if len(sys.argv) == 3:
        pax_bundle(sys.argv[2], os.path.join(corpus, "..", "bundle", "pax-size-header.ferry"))


if __name__ == "__main__":
    main()
