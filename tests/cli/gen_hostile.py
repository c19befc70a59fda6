#!/usr/bin/python3
"""Generates hostile payloads for test_verify_bad_bundles.sh and the hostile catalogue.

Usage: gen_hostile.py MANIFEST.yaml SAMPLE_TREE OUT_DIR
       gen_hostile.py --catalogue BUNDLE_B BUNDLE_A SAMPLE_TREE OUTSIDE OUT_DIR

First form: MANIFEST.yaml is the manifest of a bundle really built from SAMPLE_TREE; its files
are found in the tree by their sha256. For each case this writes OUT_DIR/CASE.tar (the
uncompressed payload) and OUT_DIR/CASE.yaml (the manifest template: the manifest without its
payload section, which ferry-forge appends after compressing the tar). Case "good" is the
honest file set and must verify; every other case breaks one thing. OUT_DIR/not-zstd.bin holds
bytes that are not a zstd frame. Prints the case names.

Second form (test_hostile_catalogue.sh): BUNDLE_B and BUNDLE_A are two real bundles built
from SAMPLE_TREE (B the one the cases start from, A another release whose parts get mixed in);
OUTSIDE is a folder outside any install root that symlinks and hardlinks aim at. Writes one
folder per case, OUT_DIR/CASE, holding the bundle's inputs (manifest.yaml, payload.tar or
payload.zst, maybe signature.minisig), `forge` (ferry-forge's arguments, one a line, paths
relative to the case folder; @KEY@ and @OUTSIDER_KEY@ stand for the trusted and an untrusted
secret key) and `expect`: lines "verify CODE MESSAGE" and "apply CODE MESSAGE" (MESSAGE a fixed
substring of stderr; "apply skip" when the case is not applied), and for some cases "plan CODE
MESSAGE" and "inspect CODE MESSAGE" (inspect --files, without a trust store). Prints the case
names.

Standard library only (run with Debian's /usr/bin/python3): Python has no zstd, so
compression is left to ferry-forge, and the zstd frames of the catalogue are built by hand
from raw and RLE blocks.
"""

import copy
import hashlib
import io
import json
import os
import re
import sys
import tarfile

MTIME = 1790000000
FILE_KEYS = ["path", "component", "role", "type", "size", "mode", "sha256", "dest", "config_mode", "image"]
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
        # An image's `image` mapping is carried as its lines, unchanged.
        if line == "    image:":
            files[-1]["image"] = []
            continue
        if line.startswith("      ") and isinstance(files[-1].get("image"), list):
            files[-1]["image"].append(line)
            continue
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


def unsafe(c):
    """Whether the character C breaks Ferry's path rule (core/text.hpp): C0, DEL, C1, bidi
    controls, line and paragraph separators."""
    o = ord(c)
    return (o < 0x20 or 0x7f <= o <= 0x9f or o in (0x061c, 0x200e, 0x200f, 0x2028, 0x2029)
            or 0x202a <= o <= 0x202e or 0x2066 <= o <= 0x2069)


def escaped(text):
    """TEXT as Ferry's messages print it (printable() in core/error.cpp)."""
    out = ""
    for c in text:
        if 0xdc80 <= ord(c) <= 0xdcff:  # a byte that is not UTF-8 (surrogateescape)
            out += "\\x%02x" % (ord(c) - 0xdc00)
        elif ord(c) < 0x20 or ord(c) == 0x7f:
            out += "\\x%02x" % ord(c)
        elif unsafe(c):
            out += "\\u%04x" % ord(c)
        else:
            out += c
    return out


def yaml_quote(text):
    """TEXT double-quoted as the bundler writes it, escaping what YAML cannot hold raw (and
    what YAML 1.1 readers take for line breaks, U+0085, U+2028 and U+2029)."""
    if all(0x20 <= ord(c) < 0x7f and c not in '"\\' for c in text):
        return f'"{text}"'
    quoted = json.dumps(text, ensure_ascii=False)  # JSON strings are YAML double-quoted strings
    return "".join("\\u%04x" % ord(c) if unsafe(c) and ord(c) >= 0x7f else c for c in quoted)


def emit_template(head, files):
    """The manifest without its payload section, with FILES in the bundler's layout."""
    out = [head, "files:\n" if files else "files:\n  []\n"]
    for f in files:
        first = True
        for key in FILE_KEYS:
            if key not in f:
                continue
            if key == "image":
                out.append("    image:\n" + "".join(line + "\n" for line in f[key]))
                continue
            value = yaml_quote(f[key]) if key in QUOTED else str(f[key])
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

    def __init__(self, name, data=b"", mode=0o644, kind=tarfile.REGTYPE, link="", pax_path=None,
                 size=None, patch=None, pax=None, pad=b"\0"):
        self.name, self.data, self.mode, self.kind, self.link = name, data, mode, kind, link
        self.pax_path = pax_path
        self.pax = pax  # more pax records, {key: value} (catalogue only)
        self.pad = pad  # the byte that pads the data to a block (catalogue only)
        self.size = size  # the size the header claims, when not len(data) (catalogue only)
        self.patch = patch  # edits the ustar header block in place (catalogue only)


def tar_info(e):
    """The tar header of entry E, as the bundler writes them (owner 0, fixed mtime)."""
    info = tarfile.TarInfo(e.name)
    info.type, info.mode, info.mtime = e.kind, e.mode, MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.linkname = e.link
    if e.kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3  # /dev/null
    if e.pax_path is not None:
        info.pax_headers = {"path": e.pax_path}
    if e.pax is not None:
        info.pax_headers = dict(info.pax_headers, **e.pax)
    return info


def write_tar(path, entries, after=b""):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            info = tar_info(e)
            if e.kind == tarfile.REGTYPE:
                info.size = len(e.data)
                tar.addfile(info, io.BytesIO(e.data))
            else:
                tar.addfile(info)
    with open(path, "wb") as f:
        f.write(buf.getvalue() + after)


# --- The hostile catalogue (test_hostile_catalogue.sh) ---------------------------------------

BLOCK = 512
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZSTD_BLOCK_MAX = 128 << 10


def set_checksum(header, delta=0):
    """Writes the ustar checksum of HEADER (a bytearray block), off by DELTA."""
    total = sum(header[:148]) + 8 * ord(" ") + sum(header[156:BLOCK]) + delta
    header[148:156] = b"%06o\0 " % total


def base256(value, width=12):
    """A GNU base-256 number field: big-endian two's complement with the top bit set."""
    raw = bytearray((value % (1 << (8 * width))).to_bytes(width, "big"))
    raw[0] |= 0x80
    return bytes(raw)


def field(offset, value, checksum_delta=0):
    """A header patch: VALUE at OFFSET, then the checksum (off by CHECKSUM_DELTA)."""
    def patch(header):
        header[offset:offset + len(value)] = value
        set_checksum(header, checksum_delta)
    return patch


def tar_bytes(entries, after=b""):
    """A pax tar of ENTRIES written header by header, so headers can lie about sizes and sums."""
    out = bytearray()
    for e in entries:
        info = tar_info(e)
        info.size = len(e.data) if e.size is None else e.size
        buf = bytearray(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        if e.patch is not None:
            header = buf[-BLOCK:]
            e.patch(header)
            buf[-BLOCK:] = header
        out += buf + e.data + e.pad * (-len(e.data) % BLOCK)
    return bytes(out + bytes(2 * BLOCK) + after)


def pax_record(key, value):
    """One pax extended header record, "LEN KEY=VALUE\n" (KEY and VALUE bytes)."""
    body = b" " + key + b"=" + value + b"\n"
    n = len(body) + 1
    while len(str(n)) + len(body) != n:
        n += 1
    return str(n).encode() + body


def zstd_frame(data, window_log=20, content_size=None, single_segment=False, rle_bytes=0, rle=b"\0"):
    """A zstd frame holding DATA in raw blocks, then RLE_BYTES copies of the byte RLE in RLE
    blocks (4 bytes per 128 KiB). The header declares CONTENT_SIZE when given, true or not; a single-segment frame's
    window is its content size."""
    descriptor, size_field = 0, b""
    if content_size is not None:
        if single_segment and content_size < 256:
            size_field = content_size.to_bytes(1, "little")
        elif 256 <= content_size < 256 + (1 << 16):
            descriptor, size_field = 1 << 6, (content_size - 256).to_bytes(2, "little")
        elif content_size < 1 << 32:
            descriptor, size_field = 2 << 6, content_size.to_bytes(4, "little")
        else:
            descriptor, size_field = 3 << 6, content_size.to_bytes(8, "little")
    if single_segment:
        descriptor |= 1 << 5
        window = b""
    else:
        window = bytes([(window_log - 10) << 3])  # exponent only: a window of 2^window_log
    blocks = [(0, data[at:at + ZSTD_BLOCK_MAX]) for at in range(0, len(data), ZSTD_BLOCK_MAX)]
    blocks += [(1, min(ZSTD_BLOCK_MAX, rle_bytes - at)) for at in range(0, rle_bytes, ZSTD_BLOCK_MAX)]
    out = bytearray(ZSTD_MAGIC + bytes([descriptor]) + window + size_field)
    for i, (kind, block) in enumerate(blocks):
        last = 1 if i == len(blocks) - 1 else 0
        size = len(block) if kind == 0 else block
        out += (last | kind << 1 | size << 3).to_bytes(3, "little")
        out += block if kind == 0 else rle
    return bytes(out)


def read_envelope(path):
    """The members of a bundle, by name (a bundle's envelope is a plain ustar archive)."""
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def payload_size(manifest):
    return int(re.search(r"\npayload:\n(?:  .*\n)*?  size: (\d+)\n", manifest).group(1))


def with_totals(head, files):
    """HEAD with the (single) component's file count and bytes recomputed from FILES."""
    totals = f"files: {len(files)}, bytes: {sum(int(f['size']) for f in files)}"
    new, n = re.subn(r"files: \d+, bytes: \d+", totals, head)
    if n != 1:
        sys.exit("gen_hostile.py: expected one component line in the manifest")
    return new


def catalogue(bundle_b, bundle_a, tree, outside, out_dir):
    env_b, env_a = read_envelope(bundle_b), read_envelope(bundle_a)
    manifest_b = env_b["manifest.yaml"].decode()
    head, files = parse_manifest(manifest_b)
    # No hooks or checks: should a hostile bundle get through, applying it starts no service.
    head = re.sub(r"(?m)^  (hooks|health|smoke):\n(    .*\n)*", "", head)
    _, files_a = parse_manifest(env_a["manifest.yaml"].decode())
    signature_b = next(v for k, v in env_b.items() if k.startswith("signatures/"))
    blobs = contents_by_hash(tree)
    for f in files + files_a:
        if f["sha256"] not in blobs:
            sys.exit(f"gen_hostile.py: {f['path']}: no file with sha256 {f['sha256']} in {tree}")
    data = {f["path"]: blobs[f["sha256"]] for f in files}
    mode = {f["path"]: int(f["mode"], 8) for f in files}
    paths = [f["path"] for f in files]
    binary = next(p for p in paths if "/binary/" in p)
    config = next(p for p in paths if "/config/" in p)
    readme = next(p for p in paths if p.endswith("/README.md"))
    victim = outside.rstrip("/") + "/victim"

    def honest():
        return [Entry(p, data[p], mode[p]) for p in paths]

    def replaced(path, entry):
        return [entry if e.name == path else e for e in honest()]

    def inserted(before, extra):
        """The honest entries with EXTRA entries just before the entry BEFORE."""
        entries = []
        for e in honest():
            if e.name == before:
                entries += extra
            entries.append(e)
        return entries

    def doc_entry(path, content, dest):
        """A manifest entry for one more doc file."""
        return {"path": path, "component": "greeter", "role": "doc", "type": "file",
                "size": str(len(content)), "mode": "0644",
                "sha256": hashlib.sha256(content).hexdigest(), "dest": dest}

    def edited(target, **changes):
        """The manifest's file list with the entry TARGET changed, sorted again."""
        listed = copy.deepcopy(files)
        for f in listed:
            if f["path"] == target:
                f.update({k: str(v) for k, v in changes.items()})
        return sorted(listed, key=lambda f: f["path"].encode("utf-8", "surrogateescape"))

    cases = {}

    def case(name, verify, apply="same", files_=None, entries=None, zst=None, manifest=None,
             forge=(), sign=("--key", "@KEY@"), signature=None, manifest_raw=False, plan=False):
        """One case: its manifest (a template from FILES_, or MANIFEST as it is), its payload
        (ENTRIES as a tar, or ZST as raw payload bytes) and its expected outcomes."""
        listed = files if files_ is None else files_
        text = manifest if manifest is not None else emit_template(with_totals(head, listed), listed)
        parts = {"manifest.yaml": text.encode("utf-8", "surrogateescape")}
        args = ["--manifest", "manifest.yaml"] + (["--manifest-raw"] if manifest_raw else [])
        if zst is not None:
            parts["payload.zst"] = zst
            args += ["--raw-payload", "payload.zst"]
        else:
            parts["payload.tar"] = tar_bytes(honest() if entries is None else entries)
            args += ["--tar", "payload.tar"]
        if signature is not None:
            parts["signature.minisig"] = signature
        args += list(sign) + list(forge)
        code, message = verify
        expect = f"verify {code} {message}\n"
        if apply == "skip":
            expect += "apply skip\n"
        else:
            expect += "apply %d %s\n" % (verify if apply == "same" else apply)
        if plan:
            expect += f"plan {code} {message}\n"
            expect += f"inspect {code} {message}\n"
        cases[name] = (parts, args, expect)

    not_next = "is not the one the manifest lists next ({})".format
    # The payload's header scan (an allow-list of types) names the entry, its type and link.
    only_regular = '"{}" is {}'.format
    components = 'must not contain empty, "." or ".." components'

    # The control: the forge's honest bundle, and an honest hand-made zstd frame.
    case("good", (0, "verified: greeter 1.0.0"), apply="skip")
    case("good-handmade-zstd", (0, "verified: greeter 1.0.0"), apply="skip",
         zst=zstd_frame(tar_bytes(honest())))

    # An empty file list is a valid bundle: verify accepts it, and so must the audit procedure.
    bare = re.sub(r"(?s)\nprocedure:\n.*\Z", "\nprocedure:\n  {}\n", with_totals(head, []))
    case("good-empty-file-list", (0, "verified: greeter 1.0.0"), apply="skip",
         manifest=emit_template(bare, []), entries=[])
    case("migration-not-listed", (3, 'procedure.migrations.steps[0].up: "greeter/migration/0001_create_greetings.up.sql" '
                                     "is not a migration file of the list"),
         manifest=emit_template(with_totals(head, []), []), entries=[])

    # Paths: in the payload tar (the manifest is honest) and in the signed manifest.
    hostile_paths = {"abs": victim, "dotdot": "..", "a-dotdot": "greeter/..",
                     "a-dotdot-dotdot-x": "greeter/../../x", "empty": "", "dot": ".",
                     "double-slash": "greeter/doc//README.md"}
    for label, path in hostile_paths.items():
        message = f'payload entry "{path}" ' + not_next(readme)
        case(f"path-{label}-in-tar", (3, message), entries=replaced(readme, Entry(path, data[readme])))
        problem = "must be a relative path" if path in ("", victim) else components
        case(f"path-{label}-in-manifest", (3, f'.path: "{path}" {problem}'),
             files_=edited(readme, path=path), entries=sorted(
                 replaced(readme, Entry(path, data[readme])), key=lambda e: e.name.encode("utf-8", "surrogateescape")))

    # A dest naming a folder: it would pass verification and break the node at install.
    case("dest-ends-in-slash", (3, '.dest: "/usr/share/doc/greeter/" must name a file, not a folder (it ends in "/")'),
         files_=edited(readme, dest="/usr/share/doc/greeter/"), plan=True)

    # Symlinks: out of the root (absolute, relative), a two-hop chain, then a file written through.
    deep = "../" * 12 + outside.strip("/")
    case("symlink-out-of-root", (3, only_regular(readme, "a symlink (type '2')")),
         entries=replaced(readme, Entry(readme, kind=tarfile.SYMTYPE, link=outside)))
    case("symlink-out-of-root-relative", (3, only_regular(readme, "a symlink (type '2')")),
         entries=replaced(readme, Entry(readme, kind=tarfile.SYMTYPE, link=deep)))
    # The manifest can list only regular files: it lists x/victim, the tar holds x first.
    doc_dir = readme.rsplit("/", 1)[0]
    through = f"{doc_dir}/x/victim"
    listed_through = sorted(files + [doc_entry(through, b"pwned\n", "/usr/share/doc/greeter/x/victim")],
                            key=lambda f: f["path"].encode())

    def through_entries(links, written=through):
        """The honest entries with symlinks LINKS (name, target) after the README, then a file
        WRITTEN through them."""
        extra = [Entry(f"{doc_dir}/{n}", kind=tarfile.SYMTYPE, link=t) for n, t in links]
        entries = honest()
        at = next(i for i, e in enumerate(entries) if e.name == readme) + 1
        return entries[:at] + extra + [Entry(written, b"pwned\n")] + entries[at:]

    case("symlink-write-through", (3, only_regular(f"{doc_dir}/x", "a symlink (type '2')")),
         files_=listed_through, entries=through_entries([("x", outside)]))
    case("symlink-write-through-relative", (3, only_regular(f"{doc_dir}/x", "a symlink (type '2')")),
         files_=listed_through, entries=through_entries([("x", "../../outside")]))
    through2 = f"{doc_dir}/hop1/victim"
    listed_hops = sorted(files + [doc_entry(through2, b"pwned\n", "/usr/share/doc/greeter/hop1/victim")],
                         key=lambda f: f["path"].encode())
    hops = through_entries([("hop1", "hop2"), ("hop2", outside)], written=through2)
    case("symlink-two-hop-write-through", (3, only_regular(f"{doc_dir}/hop1", "a symlink (type '2') to \"hop2\"")),
         files_=listed_hops, entries=hops)
    # The link's own name listed as a regular file too: the type check has to catch it.
    listed_both = sorted(listed_through + [doc_entry(f"{doc_dir}/x", b"", "/usr/share/doc/greeter/x")],
                         key=lambda f: f["path"].encode())
    # Listing both the link and a file below it is refused before the payload is read.
    case("symlink-listed-write-through", (3, f'payload path "{doc_dir}/x/victim" lies below "{doc_dir}/x", which is a file'),
         files_=listed_both, entries=through_entries([("x", outside)]))

    # Hardlinks: out of the root, carrying data, to themselves.
    operations = next(p for p in paths if p.endswith("/OPERATIONS.md"))
    case("hardlink-out-of-root", (3, only_regular(readme, f"a hardlink (type '1') to \"{victim}\"")),
         entries=replaced(readme, Entry(readme, kind=tarfile.LNKTYPE, link=victim)))
    case("hardlink-with-data", (3, only_regular(readme, f"a hardlink (type '1') to \"{operations}\"")),
         entries=replaced(readme, Entry(readme, data[readme], kind=tarfile.LNKTYPE, link=operations)))
    case("hardlink-to-itself", (3, only_regular(readme, f"a hardlink (type '1') to \"{readme}\"")),
         entries=replaced(readme, Entry(readme, kind=tarfile.LNKTYPE, link=readme)))

    # Devices, FIFOs, setuid and setgid bits.
    case("char-device", (3, only_regular(readme, "a character device (type '3')")),
         entries=replaced(readme, Entry(readme, kind=tarfile.CHRTYPE, mode=0o666)))
    case("block-device", (3, only_regular(readme, "a block device (type '4')")),
         entries=replaced(readme, Entry(readme, kind=tarfile.BLKTYPE, mode=0o666)))
    case("fifo", (3, only_regular(readme, "a FIFO (type '6')")),
         entries=replaced(readme, Entry(readme, kind=tarfile.FIFOTYPE)))
    for label, bits in (("setuid", 0o4000), ("setgid", 0o2000), ("sticky", 0o1000)):
        case(f"{label}-in-tar", (3, f"payload {binary}: mode differs from the manifest"),
             entries=replaced(binary, Entry(binary, data[binary], mode[binary] | bits)))
        wrong = f"0{mode[binary] | bits:o}"
        case(f"{label}-in-manifest", (3, f'.mode: "{wrong}" is not a mode from 0000 to 0777'),
             files_=edited(binary, mode=wrong),
             entries=replaced(binary, Entry(binary, data[binary], mode[binary] | bits)))

    # Long names, and NUL or newline in a path.
    over_path_max = doc_dir + "/" + "d/" * 2100 + "README.md"  # 4200+ bytes, over PATH_MAX
    long_component = doc_dir + "/" + "A" * 256
    for label, path, problem in (("over-path-max", over_path_max, "is longer than 1024 bytes"),
                                 ("component-over-255", long_component,
                                  "has a component longer than 255 bytes")):
        case(f"name-{label}-in-tar", (3, 'payload entry "' + path[:200]),
             entries=replaced(readme, Entry(path, data[readme])))
        case(f"name-{label}-in-manifest", (3, problem), files_=edited(readme, path=path),
             entries=sorted(replaced(readme, Entry(path, data[readme])), key=lambda e: e.name.encode("utf-8", "surrogateescape")))
    control = "must not contain control characters (NUL, newline, tab, ...)"
    for label, char in (("nul", "\0"), ("newline", "\n")):
        # Through a pax path only: a ustar name field ends at its first NUL. Tar readers
        # disagree on a NUL in a pax path (libarchive and GNU tar cut the name there, Python's
        # keeps it), so the payload's own header scan refuses it.
        nul = label == "nul"
        case(f"pax-path-{label}", (3, "holds a NUL byte" if nul else readme),
             entries=replaced(readme, Entry(readme, data[readme], pax_path=readme + char + "../../evil")))
        case(f"pax-path-{label}-prefix", (3, "holds a NUL byte" if nul else 'payload entry "' + doc_dir),
             entries=replaced(readme, Entry(readme, data[readme], pax_path=doc_dir + char + "/README.md")))
        # The message escapes the control character it quotes, so it is not cut short.
        case(f"path-{label}-in-manifest", (3, control), files_=edited(readme, path=readme + char + "x"),
             entries=replaced(readme, Entry(readme + char + "x", data[readme],
                                            pax_path=readme + char + "x")))
    # One path rule: printable UTF-8 without C0, DEL, C1, bidi controls or line separators, in
    # the signed manifest and, with the manifest honest, in the payload tar (escaped in messages).
    c0 = "must not contain control characters (NUL, newline, tab, ...)"
    for label, char, problem in (("del", "\x7f", c0), ("esc", "\x1b", c0),
                                 ("c1-nel", "\x85", "must not contain the C1 control character U+0085"),
                                 ("c1-csi", "\x9b", "must not contain the C1 control character U+009B"),
                                 ("bidi-rlo", "\u202e", "must not contain the bidirectional control U+202E"),
                                 ("bidi-rli", "\u2067", "must not contain the bidirectional control U+2067"),
                                 ("bidi-lrm", "\u200e", "must not contain the bidirectional control U+200E"),
                                 ("line-separator", "\u2028", "must not contain the line or paragraph separator U+2028"),
                                 ("paragraph-separator", "\u2029",
                                  "must not contain the line or paragraph separator U+2029")):
        path = f"{doc_dir}/READ{char}ME.md"
        case(f"path-{label}-in-manifest", (3, problem), files_=edited(readme, path=path), plan=True,
             entries=sorted(replaced(readme, Entry(path, data[readme], pax_path=path)), key=lambda e: e.name.encode("utf-8", "surrogateescape")))
        case(f"path-{label}-in-tar", (3, f'payload entry "{escaped(path)}" ' + not_next(readme)),
             entries=replaced(readme, Entry(path, data[readme], pax_path=path)))
    # A name that is not UTF-8: a byte of the ustar name changed (no pax header), and in the manifest.
    bad_byte = readme[:12] + "\udcff" + readme[13:]
    case("path-not-utf8-in-tar", (3, f'payload entry "{escaped(bad_byte)}" ' + not_next(readme)),
         entries=replaced(readme, Entry(readme, data[readme], patch=field(12, b"\xff"))))
    case("path-not-utf8-in-manifest", (3, '.path: "' + escaped(bad_byte) + '" is not valid UTF-8 (byte 12)'),
         files_=edited(readme, path=bad_byte),
         entries=sorted(replaced(readme, Entry(readme, data[readme], patch=field(12, b"\xff"))),
                        key=lambda e: e.name.encode("utf-8", "surrogateescape")))
    case("dest-bidi-in-manifest", (3, '.dest: "/usr/share/doc/greeter/\\u202eEM.md" must not contain the '
                                      'bidirectional control U+202E'),
         files_=edited(readme, dest="/usr/share/doc/greeter/\u202eEM.md"), plan=True)
    case("pax-path-overrides-ustar", (3, 'payload entry "../../evil" ' + not_next(readme)),
         entries=replaced(readme, Entry(readme, data[readme], pax_path="../../evil")))
    # The reverse: the pax path is the listed one and the ustar name, which a reader without
    # pax support would use, escapes. The payload's header scan refuses it.
    case("pax-path-hides-ustar", (3, "escapes the root behind the pax path"),
         entries=replaced(readme, Entry("../../../" + outside.strip("/") + "/victim", data[readme],
                                        pax_path=readme)))

    # Header types: an allow-list of '0' and 'x'. libarchive reads a Solaris 'X' header as a pax
    # header, skips a GNU volume header 'V' and an ACL header 'A'; other readers do not.
    allowed = ": only regular files (type '0') and pax extended headers (type 'x') are allowed"
    for label, path, ustar in (("path-nul", readme + "\0../../evil", readme),
                               ("path-hides-ustar", readme, "../../../" + outside.strip("/") + "/victim")):
        records = pax_record(b"path", path.encode())
        entries = []
        for e in honest():
            if e.name == readme:
                entries += [Entry("././@PaxHeader", records, kind=b"X"), Entry(ustar, data[readme])]
            else:
                entries.append(e)
        case(f"solaris-X-{label}", (3, '"././@PaxHeader" is a Solaris extended header (type \'X\')' + allowed),
             entries=entries)
    forged = tar_bytes([Entry(f"{doc_dir}/ZZZ-EXTRA.md", b"extra\n")])[:BLOCK]
    case("gnu-volume-header", (3, "\"volume 1\" is a GNU volume header (type 'V')" + allowed),
         entries=inserted(readme, [Entry("volume 1", forged, kind=b"V")]))
    case("solaris-acl-header", (3, "is a Solaris ACL header (type 'A')" + allowed),
         entries=inserted(readme, [Entry(readme, b"user::rwx\0group::r--\0other::r--\0", kind=b"A")]))
    case("old-style-regular-file", (3, f'"{readme}" is an old-style regular file (type 0x00)' + allowed),
         entries=replaced(readme, Entry(readme, data[readme], kind=b"\0")))
    case("contiguous-file", (3, f'"{readme}" is a contiguous file (type \'7\')' + allowed),
         entries=replaced(readme, Entry(readme, data[readme], kind=b"7")))
    case("pax-linkpath", (3, 'the pax key "linkpath" is not allowed (only path, size and mtime)'),
         entries=replaced(readme, Entry(readme, data[readme], pax={"linkpath": victim})))
    case("gnu-sparse-file", (3, f'"{readme}" is a GNU sparse file (type \'S\')' + allowed),
         entries=replaced(readme, Entry(readme, data[readme], kind=b"S")))
    # On the first entry, so that the header scan sees it before the output bound is reached.
    case("pax-attribute-8mb", (3, "bytes (at most 1048576)"),
         entries=replaced(binary, Entry(binary, data[binary], mode[binary], pax={"comment": "x" * (8 << 20)})))
    case("pax-sparse-keys", (3, 'the pax key "GNU.sparse.major" describes a sparse file'),
         entries=replaced(readme, Entry(readme, data[readme], pax={"GNU.sparse.major": "1",
                                                                    "GNU.sparse.minor": "0"})))

    # Headers: bad checksums, negative and base-256 sizes, in the payload tar and the envelope.
    case("tar-bad-checksum", (3, ": bad header checksum"),
         entries=replaced(readme, Entry(readme, data[readme], patch=field(0, b"", checksum_delta=1))))
    case("tar-size-negative", (3, "unreadable size field"),
         entries=replaced(readme, Entry(readme, data[readme], patch=field(124, base256(-1)))))
    case("tar-size-base256-huge", (3, f"payload {readme}: size {1 << 40} differs from the manifest's"),
         entries=replaced(readme, Entry(readme, data[readme], patch=field(124, base256(1 << 40)))))
    # libarchive reads the octal digits before the junk (012 = 10); the header scan refuses it.
    case("tar-size-not-octal", (3, "unreadable size field"),
         entries=replaced(readme, Entry(readme, data[readme], patch=field(124, b"0000000012x\0"))))
    case("envelope-bad-checksum", (3, "envelope header at offset 0: bad header checksum"),
         forge=["--flip-byte", "10"])
    case("envelope-size-negative", (3, "envelope header at offset 0: bad size or mode field"),
         forge=["--patch-header", "124:" + base256(-1).hex()])
    case("envelope-size-base256", (3, "envelope header at offset 0: bad size or mode field"),
         forge=["--patch-header", "124:" + base256(4096).hex()])

    # Entries: not in the manifest, missing, duplicated (decoy first, real last), too large.
    decoy = (b"LANGUAGE=en\nADMIN_TOKEN=attacker\n" * 100)[: len(data[config])]
    case("entry-not-in-manifest", (3, f'payload entry "{doc_dir}/ZZZ-EXTRA.md" is not in the manifest'),
         entries=honest() + [Entry(f"{doc_dir}/ZZZ-EXTRA.md", b"extra\n")])
    case("entry-not-in-manifest-middle", (3, f'payload entry "{binary}-extra" ' + not_next(config)),
         entries=inserted(config, [Entry(binary + "-extra", b"#!/bin/sh\n", 0o755)]))
    case("entry-missing", (3, f"payload is missing {paths[-1]} (listed in the manifest)"),
         entries=honest()[:-1])
    case("entry-duplicate-decoy-first", (3, f"payload {config}: sha256 mismatch"),
         entries=inserted(config, [Entry(config, decoy, mode[config])]))
    case("entry-duplicate-decoy-last", (3, f'payload entry "{config}" ' + not_next(operations)),
         entries=inserted(operations, [Entry(config, decoy, mode[config])]))
    case("entry-larger-than-declared",
         (3, f"payload {readme}: size {len(data[readme]) + 100} differs from the manifest's {len(data[readme])}"),
         entries=replaced(readme, Entry(readme, data[readme] + b"#" * 100)))
    case("entry-smaller-than-declared",
         (3, f"payload {readme}: size {len(data[readme]) - 100} differs from the manifest's {len(data[readme])}"),
         entries=replaced(readme, Entry(readme, data[readme][:-100])))

    # zstd: a bomb, a frame lying about its content size, a window above the 2^27 limit.
    tar = tar_bytes(honest())
    bomb = "payload.tar.zst decompresses to more than the manifest's files can fill"
    case("zstd-bomb", (3, bomb), zst=zstd_frame(tar, rle_bytes=1 << 30))
    case("zstd-bomb-not-zeros", (3, bomb), zst=zstd_frame(tar, rle_bytes=1 << 30, rle=b"A"))
    case("zstd-content-size-too-small", (3, "payload.tar.zst: zstd: "),
         zst=zstd_frame(tar, content_size=len(tar) - 4096))
    case("zstd-content-size-too-large", (3, "payload.tar.zst: zstd: "),
         zst=zstd_frame(tar, content_size=len(tar) + 4096))
    too_large = "payload.tar.zst: a zstd frame needs a window larger than the site's limit of 2^27 bytes (128 MiB), limits.window_log in the trust store"
    case("zstd-window-2^28", (3, too_large), zst=zstd_frame(tar, window_log=28))
    case("zstd-window-2^31", (3, too_large), zst=zstd_frame(tar, window_log=31))
    case("zstd-single-segment-2^28", (3, too_large),
         zst=zstd_frame(tar, content_size=1 << 28, single_segment=True))

    # Data after the end markers; truncated envelopes.
    case("data-after-envelope", (3, "data after the end of the archive at offset"),
         forge=["--trailing-bytes", "1"])
    case("data-after-envelope-block", (3, "data after the end of the archive at offset"),
         forge=["--trailing-bytes", "512"])
    case("data-after-tar", (3, "payload.tar.zst: data after the end of the tar archive"),
         entries=None, zst=zstd_frame(tar + b"X" * BLOCK))
    case("truncated-in-manifest", (3, "truncated bundle: end of file at offset 1000 inside manifest.yaml"),
         forge=["--cut-at", "1000"])
    case("truncated-in-payload", (3, "inside payload.tar.zst"), forge=["--cut-at", "-2000"])
    case("truncated-in-end-marker", (3, "inside the end-of-archive marker"), forge=["--cut-at", "-1"])
    case("truncated-after-payload", (3, "inside a member header"), forge=["--cut-at", "-1024"])

    # Mix and match: B is the bundle the cases start from, A another release.
    size_b = payload_size(manifest_b)
    size_a = len(env_a["payload.tar.zst"])
    case("mix-payload-of-a-under-b", (3, f"payload.tar.zst is {size_a} bytes, the manifest says {size_b}"),
         manifest=manifest_b, manifest_raw=True, zst=env_a["payload.tar.zst"],
         sign=("--signature-file", "signature.minisig"), signature=signature_b)
    readme_a = next(f for f in files_a if f["path"] == readme)
    spliced = replaced(readme, Entry(readme, blobs[readme_a["sha256"]]))
    # Recompressed, the spliced payload is usually another size ("payload.tar.zst is N bytes,
    # the manifest says M") and, when the sizes happen to match, fails its first chunk's hash
    # ("payload.tar.zst chunk 0 ...: sha256 mismatch"): either refusal is right.
    case("mix-splice-manifest-kept", (3, "payload.tar.zst "),
         manifest=manifest_b, manifest_raw=True, entries=spliced,
         sign=("--signature-file", "signature.minisig"), signature=signature_b)
    case("mix-splice-chunks-recomputed", (3, "BAD SIGNATURE"), entries=spliced,
         sign=("--signature-file", "signature.minisig"), signature=signature_b)
    listed_a = edited(readme, size=readme_a["size"], sha256=readme_a["sha256"])
    case("mix-splice-all-recomputed", (3, "BAD SIGNATURE"), files_=listed_a, entries=spliced,
         sign=("--signature-file", "signature.minisig"), signature=signature_b)
    case("mix-splice-signed-by-attacker", (3, ": unknown key]"), files_=listed_a, entries=spliced,
         sign=("--key", "@OUTSIDER_KEY@"))

    # The chunk list; signature lists.
    chunks = "payload.chunks: lists"
    case("chunks-one-short", (3, chunks), forge=["--chunk-size", "65536", "--chunks-delta", "-1"])
    case("chunks-one-long", (3, chunks), forge=["--chunk-size", "65536", "--chunks-delta", "1"])
    case("chunks-none", (3, chunks), forge=["--chunks-delta", "-1"])
    case("signatures-none", (3, "bundle carries no signature"), sign=("--no-signature",))
    case("signature-empty", (3, "the last line does not end with a newline"), forge=["--empty-signature"])
    case("signature-duplicate", (3, "duplicate member \"signatures/"), forge=["--duplicate-signature"])

    # Padding and header fields: one bundle, one byte-form. In the envelope, which no signature
    # covers (B's own manifest, signature and payload, then one byte changed), and in the tar.
    sig_name = next(k for k in env_b if k.startswith("signatures/"))
    after_manifest = BLOCK + len(manifest_b) + (-len(manifest_b) % BLOCK)
    sig_padding = after_manifest + BLOCK + len(signature_b)
    b_as_is = dict(manifest=manifest_b, manifest_raw=True, zst=env_b["payload.tar.zst"],
                   sign=("--signature-file", "signature.minisig"), signature=signature_b)
    case("envelope-padding-not-zero",
         (3, f"envelope: the padding after member {sig_name} is not zero (at offset {sig_padding})"),
         forge=["--flip-byte", str(sig_padding)], **b_as_is)
    case("envelope-uid-not-zero", (3, 'envelope header at offset 0: the uid field is "0000001\\x00"'),
         forge=["--patch-header", "108:" + b"0000001".hex()], **b_as_is)
    case("envelope-name-field-junk", (3, 'envelope header at offset 0: the name field is "manifest.yaml'),
         forge=["--patch-header", "50:4a"], **b_as_is)
    case("envelope-mtime-differs", (3, f"envelope header at offset {after_manifest}: mtime "),
         forge=["--patch-header", f"{after_manifest + 136}:" + b"00000000001".hex()], **b_as_is)
    # A member name that would forge a line of output, were messages not escaped where printed.
    forged = b"evil\nferry-applier: verified: greeter 1.0.0"
    case("envelope-member-name-forges-a-line",
         (3, 'unexpected member "evil\\x0aferry-applier: verified: greeter 1.0.0"'),
         forge=["--patch-header", f"{after_manifest}:" + forged.ljust(100, b"\0").hex()], **b_as_is)
    case("tar-padding-not-zero", (3, "padding after the data of the entry at offset"),
         entries=replaced(readme, Entry(readme, data[readme], pad=b"X")))
    case("tar-name-field-junk", (3, "non-zero bytes after the end of the name field"),
         entries=replaced(readme, Entry(readme, data[readme], patch=field(90, b"J"))))
    case("tar-header-padding-not-zero", (3, "the last 12 bytes of the header (its padding) are not zero"),
         entries=replaced(readme, Entry(readme, data[readme], patch=field(505, b"J"))))

    # The manifest's YAML is a strict subset, so that every YAML reader reads it the same way:
    # no tags, second documents, directives, anchors, aliases, merge keys, nulls, ambiguous
    # numbers or words, deep nesting or raw line separators.
    template = emit_template(with_totals(head, files), files)

    def yaml_case(name, message, old, new, count=1):
        text = template.replace(old, new, count)
        if text == template:
            sys.exit(f"gen_hostile.py: {name}: {old!r} is not in the manifest")
        case(name, (3, message), manifest=text)

    tags = "YAML tags ({}) are not allowed in a manifest".format
    yaml_case("yaml-tag-binary", tags('"tag:yaml.org,2002:binary"'), 'release_notes: "',
              'release_notes: !!binary "SGVsbG8K" # "')
    yaml_case("yaml-tag-local", tags('"!x"'), "name: greeter", "name: !x greeter")
    yaml_case("yaml-anchor-alias", "YAML anchors (&p) are not allowed in a manifest",
              '  product: "greeter"\n  channel: "stable"', '  product: &p "greeter"\n  channel: *p')
    yaml_case("yaml-merge-key", "YAML merge keys (<<) are not allowed in a manifest",
              '  product: "greeter"', '  <<: {product: "greeter"}')
    yaml_case("yaml-null", "release_notes: an empty or null value is not allowed", 'release_notes: "',
              'release_notes:\nold_notes: "')
    yaml_case("yaml-quoted-number", 'sequence: expected a decimal integer without quotes or leading zeros, got "1"',
              "sequence: 1\n", 'sequence: "1"\n')
    yaml_case("yaml-boolean-word", '"yes" unquoted is read as a boolean, null or number by some YAML readers',
              'channel: "stable"', "channel: yes")
    yaml_case("yaml-number-as-text", "name: the number 123 where text is expected: quote it",
              "name: greeter", "name: 123")
    yaml_case("yaml-deep-nesting", "YAML nested more than 16 levels deep, the limit of a manifest",
              "breaking_changes:\n  []", "breaking_changes: " + "[" * 40 + "]" * 40)
    yaml_case("yaml-raw-line-separator", "a raw line break U+0085, U+2028 or U+2029",
              "First release.", "First\u2028release.")
    yaml_case("yaml-too-many-values", "the manifest's YAML holds more than 200000 values, the limit that bounds a "
              "reader's memory", "breaking_changes:\n  []", "breaking_changes: [" + "a," * 200000 + "a]")
    octal = str(int(next(f for f in files if f["path"] == readme)["size"]))
    case("yaml-octal-size", (3, f"size: expected a decimal integer without quotes or leading zeros, got 0{octal} "
                                "(YAML 1.1 readers take it for octal)"),
         files_=edited(readme, size="0" + octal))
    b_signed = dict(manifest_raw=True, zst=env_b["payload.tar.zst"])
    case("yaml-second-document", (3, "YAML document markers (---) are not allowed in a manifest"),
         manifest=manifest_b + "---\nname: evil\n", **b_signed)
    case("yaml-directive", (3, 'YAML directives ("%YAML 1.1") are not allowed in a manifest'),
         manifest="%YAML 1.1\n---\n" + manifest_b, **b_signed)

    # A huge manifest: 17 MiB, over the 16 MiB cap (a YAML comment), signed as it is.
    huge = emit_template(head, files) + "# " + "x" * (17 << 20) + "\n"
    case("manifest-huge", (3, "member manifest.yaml is too large"), manifest=huge, manifest_raw=True)

    # Sizes around 2^31 and 2^32: declared by the manifest, claimed by a tar header over a short
    # body, or both. Refused without allocating or writing that much.
    for label, size in (("2^31-1", (1 << 31) - 1), ("2^31+1", (1 << 31) + 1),
                        ("2^32-1", (1 << 32) - 1), ("2^32+1", (1 << 32) + 1)):
        big = edited(readme, size=size, sha256=EMPTY_SHA256)
        case(f"size-{label}-in-manifest",
             (3, f"payload {readme}: size {len(data[readme])} differs from the manifest's {size}"),
             files_=big)
        case(f"size-{label}-in-tar", (3, f"payload {readme}: size {size} differs from the manifest's"),
             entries=replaced(readme, Entry(readme, data[readme], size=size)))
        case(f"size-{label}-in-both", (3, f"payload {readme}: "), files_=big,
             entries=replaced(readme, Entry(readme, data[readme], size=size)))

    os.makedirs(out_dir, exist_ok=True)
    for name, (parts, args, expect) in cases.items():
        folder = os.path.join(out_dir, name)
        os.makedirs(folder, exist_ok=True)
        for part, content in parts.items():
            with open(os.path.join(folder, part), "wb") as f:
                f.write(content)
        with open(os.path.join(folder, "forge"), "w", encoding="utf-8") as f:
            f.write("".join(a + "\n" for a in args))
        with open(os.path.join(folder, "expect"), "w", encoding="utf-8") as f:
            f.write(expect)
        print(name)


def main():
    if len(sys.argv) == 7 and sys.argv[1] == "--catalogue":
        catalogue(*sys.argv[2:])
        return
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
