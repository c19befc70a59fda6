#!/usr/bin/env python3
"""Writes a small container image archive of FILES, byte for byte the same on every run.

Usage: make-image.py [--format oci-archive|docker-archive] [--arch amd64] OUT REF [NAME=FILE ...]

The one layer holds each FILE as /NAME (mode 0755), in a gzip stream with no name or time;
every tar member has mtime 0 and owner root, members are sorted, the config has no dates.
An oci-archive is a tar of an OCI image layout (oci-layout, index.json with REF as
org.opencontainers.image.ref.name, blobs/sha256/...); a docker-archive is what `docker save`
writes (manifest.json with RepoTags [REF], the config and the layer). Used by the sample's
build and by the tests; nothing is downloaded.
"""
import argparse
import gzip
import hashlib
import io
import json
import sys
import tarfile


def tar_bytes(members):
    """A ustar archive of (name, bytes, mode) members, sorted, with fixed metadata."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data, mode in sorted(members):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def canonical(doc):
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def sha(data):
    return hashlib.sha256(data).hexdigest()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--format", choices=["oci-archive", "docker-archive"], default="oci-archive")
    parser.add_argument("--arch", default="amd64")
    parser.add_argument("out")
    parser.add_argument("ref")
    parser.add_argument("files", nargs="*")
    args = parser.parse_args()

    members = []
    for spec in args.files:
        name, _, path = spec.partition("=")
        with open(path, "rb") as f:
            members.append((name, f.read(), 0o755))
    layer_tar = tar_bytes(members)
    config = canonical({
        "architecture": args.arch,
        "os": "linux",
        "config": {"Entrypoint": ["/" + members[0][0]] if members else []},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(layer_tar)]},
    })
    if args.format == "docker-archive":
        layer_name = sha(layer_tar) + "/layer.tar"
        config_name = sha(config) + ".json"
        manifest = json.dumps([{"Config": config_name, "RepoTags": [args.ref], "Layers": [layer_name]}]).encode()
        archive = tar_bytes([(config_name, config, 0o644), (layer_name, layer_tar, 0o644),
                             ("manifest.json", manifest, 0o644)])
    else:
        layer = gzip.compress(layer_tar, compresslevel=9, mtime=0)
        manifest = canonical({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": "sha256:" + sha(config), "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": "sha256:" + sha(layer), "size": len(layer)}],
        })
        index = canonical({
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "digest": "sha256:" + sha(manifest), "size": len(manifest),
                           "annotations": {"org.opencontainers.image.ref.name": args.ref}}],
        })
        archive = tar_bytes([("oci-layout", b'{"imageLayoutVersion":"1.0.0"}', 0o644),
                             ("index.json", index, 0o644)] +
                            [("blobs/sha256/" + sha(b), b, 0o644) for b in (config, layer, manifest)])
    with open(args.out, "wb") as f:
        f.write(archive)
    return 0


if __name__ == "__main__":
    sys.exit(main())
