#!/usr/bin/python3
"""Checks Ferry's YAML documents against manifest-schema/schemas/*.json.

Usage: test_schemas.py SOURCE_DIR [MANIFEST.yaml ...] [--trust TRUST.yaml ...]

Validates the sample bundle specs (SOURCE_DIR/samples/*/*.yaml), the fixtures beside this
script and every manifest and trust store given, then checks that deliberately broken copies
are rejected for the intended reason. Besides the schemas it checks what JSON Schema cannot
express (key order, sorting, uniqueness, cross-references). Prints one line per check and
`N passed, M failed`; exits 1 if anything failed.

Run it with Debian's /usr/bin/python3, which has python3-jsonschema and python3-yaml.
"""

import argparse
import base64
import copy
import fnmatch
import json
import re
import sys
from pathlib import Path

import jsonschema
import yaml

MANIFEST_KEYS = ["format", "name", "version", "sequence", "created", "expires", "compatible",
                 "upgrade_from", "breaking_changes", "release_notes", "components", "procedure",
                 "files", "payload"]


class Loader(yaml.SafeLoader):
    """SafeLoader that keeps times as strings and refuses duplicate keys, as Ferry's reader."""

    def construct_mapping(self, node, deep=False):
        keys = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in keys:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            keys.add(key)
        return super().construct_mapping(node, deep)


Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, Loader.construct_mapping)


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=Loader)


def ecma_pattern(validator, pattern, instance, schema):
    """JSON Schema patterns are ECMA-262, where $ matches only at the very end; Python's $
    also matches before a final newline, so "abc\\n" would pass "^abc$"."""
    if validator.is_type(instance, "string"):
        if not re.search(re.sub(r"(?<!\\)\$", r"\\Z", pattern), instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


Validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": ecma_pattern})


def schema_errors(validator, document):
    """Returns 'path: message' for every schema error, in document order."""
    errors = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]


# --- checks that JSON Schema cannot express --------------------------------------------------

def duplicates(values):
    seen, repeated = set(), []
    for value in values:
        if value in seen and value not in repeated:
            repeated.append(value)
        seen.add(value)
    return repeated


def spec_semantics(spec, spec_dir=None):
    """Step ids unique; with spec_dir, release notes and migration files must exist."""
    problems = []
    steps = spec.get("procedure", {}).get("migrations", {}).get("steps", [])
    for step_id in duplicates(s["id"] for s in steps):
        problems.append(f"procedure/migrations/steps: duplicate id {step_id!r}")
    if spec_dir is None:
        return problems
    if "release_notes" in spec and not (spec_dir / spec["release_notes"]).is_file():
        problems.append(f"release_notes: no file {spec['release_notes']}")
    migrations = set()
    for component in spec["components"]:
        for entry in component["files"]:
            if entry["role"] == "migration":
                migrations.update(source_names(spec_dir, entry["source"]))
    for i, step in enumerate(steps):
        for key in ("up", "down"):
            if key in step and step[key] not in migrations:
                problems.append(f"procedure/migrations/steps/{i}/{key}: {step[key]!r} is not"
                                f" among the migration files {sorted(migrations)}")
    return problems


def source_names(spec_dir, source):
    """Payload NAMEs of a spec source: a folder (ending in /), a glob or a file."""
    if source.endswith("/"):
        folder = spec_dir / source
        return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    folder, _, pattern = (spec_dir / source).as_posix().rpartition("/")
    if not Path(folder).is_dir():
        return set()
    return {p.name for p in Path(folder).iterdir()
            if p.is_file() and fnmatch.fnmatchcase(p.name, pattern)}


def manifest_semantics(manifest):
    """Key order, files sorted and unique, paths under their component and role, chunk count,
    migration steps naming migration files."""
    problems = []
    order = [k for k in manifest if k in MANIFEST_KEYS]
    if order != [k for k in MANIFEST_KEYS if k in manifest]:
        problems.append(f"(root): keys out of order: {order}")
    files = manifest.get("files", [])
    paths = [f["path"] for f in files]
    if paths != sorted(paths, key=lambda p: p.encode()):
        problems.append("files: not sorted by path")
    for path in duplicates(paths):
        problems.append(f"files: duplicate path {path!r}")
    for dest in duplicates(f["dest"] for f in files if "dest" in f):
        problems.append(f"files: duplicate dest {dest!r}")
    components = {c["name"] for c in manifest.get("components", [])}
    for i, f in enumerate(files):
        if not f["path"].startswith(f"{f['component']}/{f['role']}/"):
            problems.append(
                f"files/{i}/path: {f['path']!r} is not below {f['component']}/{f['role']}/")
        if f["component"] not in components:
            problems.append(f"files/{i}/component: {f['component']!r} is not a listed component")
        path_bytes = f["path"].encode()
        if len(path_bytes) > 1024 or any(len(c) > 255 for c in path_bytes.split(b"/")):
            problems.append(f"files/{i}/path: longer than 1024 bytes or a component over 255 bytes")
    payload = manifest.get("payload", {})
    if payload:
        expected = -(-payload["size"] // payload["chunk_size"])
        if len(payload["chunks"]) != expected:
            problems.append(f"payload/chunks: {len(payload['chunks'])} chunks, expected {expected}")
    migration_paths = {f["path"] for f in files if f["role"] == "migration"}
    steps = manifest.get("procedure", {}).get("migrations", {}).get("steps", [])
    for step_id in duplicates(s["id"] for s in steps):
        problems.append(f"procedure/migrations/steps: duplicate id {step_id!r}")
    for i, step in enumerate(steps):
        for key in ("up", "down"):
            if key in step and step[key] not in migration_paths:
                problems.append(f"procedure/migrations/steps/{i}/{key}: {step[key]!r}"
                                " is not a migration file")
    return problems


def trust_semantics(trust):
    """Threshold at most the number of keys; names, ids, public keys unique; id matches key."""
    problems = []
    keys = trust.get("keys", [])
    if trust.get("threshold", 0) > len(keys):
        problems.append(f"threshold: {trust['threshold']} is more than the {len(keys)} keys")
    for field in ("name", "id", "public_key"):
        for value in duplicates(k[field] for k in keys):
            problems.append(f"keys: duplicate {field} {value!r}")
    for i, key in enumerate(keys):
        raw = base64.b64decode(key["public_key"])
        key_id = raw[2:10][::-1].hex().upper()
        if key_id != key["id"]:
            problems.append(f"keys/{i}/id: {key['id']} but public_key holds key id {key_id}")
    return problems


# --- the run ---------------------------------------------------------------------------------

class Run:
    def __init__(self, schema_dir):
        self.passed = 0
        self.failed = 0
        self.validators = {}
        for kind in ("spec", "manifest", "trust"):
            path = schema_dir / f"{kind}.schema.json"
            try:
                with open(path, encoding="utf-8") as f:
                    schema = json.load(f)
                Validator.check_schema(schema)
                self.validators[kind] = Validator(schema)
                self.report(True, f"schema {path.name} is a valid draft 2020-12 schema")
            except (OSError, ValueError, jsonschema.SchemaError) as e:
                self.report(False, f"schema {path.name} is a valid draft 2020-12 schema", [str(e)])

    def report(self, ok, label, details=()):
        if ok:
            self.passed += 1
            print(f"PASS {label}")
        else:
            self.failed += 1
            print(f"FAIL {label}" + (f": {details[0]}" if details else ""))
            for detail in details[1:10]:
                print(f"     {detail}")

    def problems(self, kind, document, semantics):
        """Schema errors, or if there are none the semantic problems."""
        if kind not in self.validators:
            return [f"no usable {kind} schema"]
        return schema_errors(self.validators[kind], document) or semantics(document)

    def accept(self, kind, path, semantics):
        label = f"{kind} {path} is valid"
        try:
            document = load_yaml(path)
        except (OSError, yaml.YAMLError) as e:
            self.report(False, label, [" ".join(str(e).split())])
            return None
        problems = self.problems(kind, document, semantics)
        self.report(not problems, label, problems)
        return document if not problems else None

    def reject(self, kind, what, document, semantics, mentions):
        """Passes when the document is refused with a problem that mentions `mentions`."""
        label = f"{kind} with {what} is rejected"
        problems = self.problems(kind, document, semantics)
        if not problems:
            self.report(False, label, ["accepted"])
        elif not any(mentions in p for p in problems):
            self.report(False, label, [f"rejected, but not for {mentions!r}"] + problems)
        else:
            self.report(True, label)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source_dir", type=Path)
    parser.add_argument("manifests", nargs="*", type=Path, metavar="MANIFEST.yaml")
    parser.add_argument("--trust", nargs="+", action="extend", default=[], type=Path,
                        metavar="TRUST.yaml")
    args = parser.parse_args()

    run = Run(args.source_dir / "manifest-schema" / "schemas")
    fixtures = args.source_dir / "tests" / "schema"

    specs = sorted((args.source_dir / "samples").glob("*/*.yaml"))
    if not specs:
        run.report(False, "sample specs found", [f"no {args.source_dir}/samples/*/*.yaml"])
    good_specs = [run.accept("spec", p, lambda d, p=p: spec_semantics(d, p.parent)) for p in specs]
    manifest = run.accept("manifest", fixtures / "example-manifest.yaml", manifest_semantics)
    for path in args.manifests:
        run.accept("manifest", path, manifest_semantics)
    trust = run.accept("trust", fixtures / "example-trust.yaml", trust_semantics)
    for path in args.trust:
        run.accept("trust", path, trust_semantics)

    # Broken copies of valid documents must be refused, and for the intended reason.
    spec = next((s for s in good_specs if s is not None), None)
    if spec is None:
        run.report(False, "negative spec checks", ["no valid sample spec to break"])
    else:
        bad = {("verison" if k == "version" else k): v for k, v in spec.items()}
        run.reject("spec", 'misspelt key "verison"', bad, spec_semantics, "verison")
        bad = dict(spec, expires="2027-12-31T00:00:00Z", expires_in_days=365)
        run.reject("spec", "both expires and expires_in_days", bad, spec_semantics,
                   "expires_in_days")
        bad = copy.deepcopy(spec)
        bad["components"][0]["files"][0]["config_mode"] = "keep"
        run.reject("spec", "config_mode on a binary", bad, spec_semantics, "config_mode")

    check_path_cases(run, fixtures / "path-cases.yaml", args.source_dir / "manifest-schema" / "schemas")

    if manifest is None:
        run.report(False, "negative manifest checks", ["no valid manifest fixture to break"])
    else:
        reject_broken_manifests(run, manifest)
    if trust is None:
        run.report(False, "negative trust checks", ["no valid trust fixture to break"])
    else:
        reject_broken_trust(run, trust)

    print(f"{run.passed} passed, {run.failed} failed")
    return 1 if run.failed else 0


def check_path_cases(run, cases_path, schema_dir):
    """The one path rule: every case of path-cases.yaml (which tests/unit/test_schema.cpp
    checks against Ferry's parser) gets the same verdict from the manifest schema's
    payload_path and absolute_file, and from the spec schema's absolute_file."""
    with open(cases_path, encoding="utf-8") as f:
        cases = yaml.safe_load(f)
    for schema_name, kinds in (("manifest", {"payload": "payload_path", "dest": "absolute_file"}),
                               ("spec", {"dest": "absolute_file"})):
        with open(schema_dir / f"{schema_name}.schema.json", encoding="utf-8") as f:
            defs = json.load(f)["$defs"]
        for kind, definition in kinds.items():
            validator = Validator({"$ref": f"#/$defs/{definition}", "$defs": defs})
            for verdict in ("valid", "invalid"):
                for path in cases[kind][verdict]:
                    accepted = validator.is_valid(path)
                    run.report(accepted == (verdict == "valid"),
                               f"{schema_name} {definition}: {path!r} is {verdict}",
                               ["accepted" if accepted else "refused"])


def reject_broken_manifests(run, manifest):
    bad = copy.deepcopy(manifest)
    bad["files"][0]["sha256"] = bad["files"][0]["sha256"][:63] + "G"
    run.reject("manifest", "a bad sha256", bad, manifest_semantics, "files/0/sha256")
    bad = copy.deepcopy(manifest)
    bad["files"][0]["sha256"] += "\n"
    run.reject("manifest", "a sha256 ending in a newline", bad, manifest_semantics,
               "files/0/sha256")
    bad = copy.deepcopy(manifest)
    bad["files"][0]["mode"] = "4755"
    run.reject("manifest", "a setuid mode", bad, manifest_semantics, "files/0/mode")
    bad = copy.deepcopy(manifest)
    bad["files"][0]["path"] = "greeter/binary/../../etc/passwd"
    run.reject("manifest", "a .. in a path", bad, manifest_semantics, "files/0/path")
    bad = copy.deepcopy(manifest)
    bad["files"][0]["dest"] = "/usr/bin/../../etc/passwd"
    run.reject("manifest", "a .. in a dest", bad, manifest_semantics, "files/0/dest")
    bad = copy.deepcopy(manifest)
    bad["files"].reverse()
    run.reject("manifest", "files out of order", bad, manifest_semantics, "not sorted")


def reject_broken_trust(run, trust):
    run.reject("trust", "threshold 0", dict(trust, threshold=0), trust_semantics, "threshold")
    run.reject("trust", "threshold above the number of keys", dict(trust, threshold=3),
               trust_semantics, "threshold")
    bad = copy.deepcopy(trust)
    bad["keys"][0]["id"] = bad["keys"][1]["id"]
    run.reject("trust", "an id that is not the public key's", bad, trust_semantics, "keys/0/id")


if __name__ == "__main__":
    sys.exit(main())
