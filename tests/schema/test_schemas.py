#!/usr/bin/python3
"""Checks Ferry's YAML documents against manifest-schema/schemas/*.json.

Usage: test_schemas.py SOURCE_DIR [MANIFEST.yaml ...] [--trust TRUST.yaml ...]
       test_schemas.py SOURCE_DIR --differential FERRY_REEMIT MANIFEST.yaml ...

Validates the sample bundle specs (SOURCE_DIR/samples/*/*.yaml), the fixtures beside this
script and every manifest and trust store given, then checks that deliberately broken copies
are rejected for the intended reason. Besides the schemas it checks what JSON Schema cannot
express (key order, sorting, uniqueness, cross-references). Prints one line per check and
`N passed, M failed`; exits 1 if anything failed.

The second form is the differential test of the manifest's readers: each MANIFEST.yaml is read
by Ferry (FERRY_REEMIT prints Ferry's reading as YAML again) and by PyYAML under the rules of
the strict subset (strict_problems below) and the schema; both must accept it and read the
same data, or both must refuse it.

Run it with Debian's /usr/bin/python3, which has python3-jsonschema and python3-yaml.
"""

import argparse
import base64
import copy
import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

MANIFEST_KEYS = ["format", "name", "version", "sequence", "created", "expires", "compatible",
                 "upgrade_from", "min_applier_version", "breaking_changes", "release_notes",
                 "components", "procedure", "files", "payload"]


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


# --- the strict subset of YAML a manifest is written in (manifest-schema/strict_yaml.hpp) -----

INTEGER_KEYS = {"sequence", "files", "bytes", "size", "chunk_size", "timeout", "interval", "retries"}
MAX_DEPTH = 16
MAX_VALUES = 200000
AMBIGUOUS_WORDS = {"", "~", "null", "Null", "NULL", "yes", "Yes", "YES", "no", "No", "NO", "y", "Y", "n",
                   "N", "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off",
                   "OFF", "<<", "=", ".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN"}


def is_canonical_integer(text):
    return re.fullmatch(r"0|[1-9][0-9]{0,18}", text) is not None


def plain_is_ambiguous(text):
    """Whether a plain scalar could be read as something other than text by some YAML reader:
    the same rule as Ferry's plain_is_ambiguous, word for word."""
    if text in AMBIGUOUS_WORDS:
        return True
    s = text[1:] if text[:1] in ("+", "-") else text
    if s in (".inf", ".Inf", ".INF"):
        return True
    if not s or not (s[0] in "0123456789."):
        return False
    if len(s) > 2 and s[0] == "0" and s[1] in "xob":
        chars = {"x": "0123456789abcdefABCDEF_", "o": "01234567_", "b": "01_"}[s[1]]
        return all(c in chars for c in s[2:])
    return all(c in "0123456789_:.eE+-" for c in s)


def strict_problems(text):
    """The first way TEXT leaves the strict subset, or None. Mirrors check_strict_yaml."""
    for n, line in enumerate(text.split("\n"), 1):
        if line.startswith("%"):
            return f"line {n}: YAML directive"
        if re.match(r"(---|\.\.\.)([ \t\r]|$)", line):
            return f"line {n}: YAML document marker"
        if any(c in line for c in "\x85\u2028\u2029"):
            return f"line {n}: raw U+0085, U+2028 or U+2029"
    stack = []  # [is_map, expect_key, key]
    documents = 0
    values = 0

    def current_key():
        return next((frame[2] for frame in reversed(stack) if frame[0]), "")

    def after_value():
        if stack and stack[-1][0]:
            stack[-1][1] = True

    try:
        for event in yaml.parse(text, Loader=Loader):
            line = event.start_mark.line + 1
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    return f"line {line}: a second document"
            elif isinstance(event, yaml.AliasEvent):
                return f"line {line}: an alias"
            elif isinstance(event, (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                values += 1
                if values > MAX_VALUES:
                    return f"line {line}: more than {MAX_VALUES} values"
                if event.anchor is not None:
                    return f"line {line}: an anchor"
                if event.tag not in (None, "!"):
                    return f"line {line}: the tag {event.tag}"
                key = bool(stack) and stack[-1][0] and stack[-1][1]
                if not isinstance(event, yaml.ScalarEvent):
                    if key:
                        return f"line {line}: a complex key"
                    if len(stack) >= MAX_DEPTH:
                        return f"line {line}: nested more than {MAX_DEPTH} levels"
                    stack.append([isinstance(event, yaml.MappingStartEvent), True, ""])
                    continue
                plain = event.style is None and event.tag is None
                value = event.value
                if key:
                    if plain and plain_is_ambiguous(value):
                        return f"line {line}: the key {value!r}"
                    stack[-1][1], stack[-1][2] = False, value
                    continue
                integer = current_key() in INTEGER_KEYS
                if integer and not (plain and is_canonical_integer(value)):
                    return f"line {line}: {current_key()}: {value!r} is not a decimal integer"
                if not integer and plain and (is_canonical_integer(value) or plain_is_ambiguous(value)):
                    return f"line {line}: {current_key()}: {value!r} unquoted is ambiguous"
                after_value()
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                stack.pop()
                after_value()
    except yaml.YAMLError as e:
        return "YAML error: " + " ".join(str(e).split())
    return None


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
    appliers = [f["path"] for f in files if f["role"] == "applier"]
    if len(appliers) > 1:
        problems.append(f"files: {appliers} are all the applier; a bundle carries at most one")
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
    for i, c in enumerate(manifest.get("components", [])):
        listed = [f for f in files if f["component"] == c["name"]]
        if (c["files"], c["bytes"]) != (len(listed), sum(f["size"] for f in listed)):
            problems.append(f"components/{i}: declares {c['files']} files of {c['bytes']} bytes, the list"
                            f" has {len(listed)} of {sum(f['size'] for f in listed)}")
    for field in ("path", "dest"):
        # No listed path or destination lies below another: it would be a file and a folder at once.
        listed = {f[field] for f in files if field in f}
        for value in sorted(listed):
            parts = value.split("/")
            for n in range(1, len(parts)):
                if "/".join(parts[:n]) in listed:
                    problems.append(f"files: {field} {value!r} lies below {'/'.join(parts[:n])!r}, a file")
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
    """Each role's threshold at most the number of keys with that role; names, ids, public keys
    unique; id matches key."""
    problems = []
    keys = trust.get("keys", [])
    for role, threshold in trust.get("thresholds", {}).items():
        holders = sum(1 for k in keys if role in k.get("roles", []))
        if threshold > holders:
            problems.append(f"thresholds/{role}: {threshold} is more than the {holders} {role} keys")
    for field in ("name", "id", "public_key"):
        for value in duplicates(k[field] for k in keys):
            problems.append(f"keys: duplicate {field} {value!r}")
    for i, key in enumerate(keys):
        raw = base64.b64decode(key["public_key"])
        key_id = raw[2:10][::-1].hex().upper()
        if key_id != key["id"]:
            problems.append(f"keys/{i}/id: {key['id']} but public_key holds key id {key_id}")
    return problems


def inventory_semantics(inventory):
    """Node names, roots and state folders unique; groups name listed nodes."""
    problems = []
    nodes = inventory.get("nodes", [])
    for value in duplicates(n["name"] for n in nodes):
        problems.append(f"nodes: duplicate name {value!r}")
    # Folders are per machine: this one's for local nodes, the host's for ssh nodes.
    def machine(n):
        return f"{n['host']}:{n.get('port', 22)}:" if n.get("transport") == "ssh" else ""
    for field in ("root", "state_dir"):
        for value in duplicates(machine(n) + n.get(field, "") for n in nodes if field in n):
            problems.append(f"nodes: duplicate {field} {value!r}")
    names = {n["name"] for n in nodes}
    for group, members in inventory.get("groups", {}).items():
        for member in members:
            if member not in names:
                problems.append(f"groups/{group}: no node is called {member!r}")
    return problems


def reject_broken_inventory(run, inventory):
    bad = copy.deepcopy(inventory)
    bad["rollout"]["max_unavailable"] = 0
    run.reject("inventory", "max_unavailable 0", bad, inventory_semantics, "max_unavailable")
    bad = copy.deepcopy(inventory)
    bad["nodes"][1]["name"] = bad["nodes"][0]["name"]
    run.reject("inventory", "a duplicate node name", bad, inventory_semantics, "duplicate name")
    bad = copy.deepcopy(inventory)
    bad["rollout"]["ordr"] = bad["rollout"].pop("order")
    run.reject("inventory", 'misspelt key "ordr"', bad, inventory_semantics, "ordr")
    bad = copy.deepcopy(inventory)
    bad["nodes"][0]["transport"] = "ssh"
    run.reject("inventory", "an ssh node without host, identity, known_hosts", bad, inventory_semantics, "host")
    bad = copy.deepcopy(inventory)
    bad["nodes"][0]["host"] = "n1.site"
    run.reject("inventory", "a local node with a host", bad, inventory_semantics, "host")
    bad = copy.deepcopy(inventory)
    bad["nodes"][0].update(transport="ssh", host="n1.site", identity="id", known_hosts="kh", root="srv")
    run.reject("inventory", "an ssh node with a relative root", bad, inventory_semantics, "root")


# --- the run ---------------------------------------------------------------------------------

class Run:
    def __init__(self, schema_dir):
        self.passed = 0
        self.failed = 0
        self.validators = {}
        for kind in ("spec", "manifest", "trust", "inventory"):
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
            if kind == "manifest" and (problem := strict_problems(Path(path).read_text(encoding="utf-8"))):
                self.report(False, label, [f"outside the strict subset of YAML: {problem}"])
                return None
            document = load_yaml(path)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
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
    parser.add_argument("--differential", metavar="FERRY_REEMIT")
    args = parser.parse_intermixed_args()

    run = Run(args.source_dir / "manifest-schema" / "schemas")
    if args.differential:
        differential(run, args.differential, args.manifests)
        print(f"{run.passed} passed, {run.failed} failed")
        return 1 if run.failed else 0
    fixtures = args.source_dir / "tests" / "schema"

    specs = sorted((args.source_dir / "samples").glob("*/*.yaml"))
    if not specs:
        run.report(False, "sample specs found", [f"no {args.source_dir}/samples/*/*.yaml"])
    good_specs = [run.accept("spec", p, lambda d, p=p: spec_semantics(d, p.parent)) for p in specs]
    manifest = run.accept("manifest", fixtures / "example-manifest.yaml", manifest_semantics)
    for path in args.manifests:
        run.accept("manifest", path, manifest_semantics)
    trust = run.accept("trust", fixtures / "example-trust.yaml", trust_semantics)
    inventory = run.accept("inventory", fixtures / "example-inventory.yaml", inventory_semantics)
    if inventory is not None:
        reject_broken_inventory(run, inventory)
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


def manifest_reading(run, raw):
    """PyYAML's reading of manifest bytes RAW under the strict subset's rules, and the problems
    the schema and the semantic checks find: (data or None, problems)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, [f"not UTF-8: {e}"]
    problem = strict_problems(text)
    if problem:
        return None, [problem]
    try:
        data = yaml.load(text, Loader=Loader)
    except yaml.YAMLError as e:
        return None, ["YAML error: " + " ".join(str(e).split())]
    return data, run.problems("manifest", data, manifest_semantics)


def differential(run, reemit, paths):
    """Each manifest is accepted by Ferry and by PyYAML with the schema, read the same by both,
    or refused by both."""
    for path in paths:
        raw = path.read_bytes()
        if len(raw) > 16 << 20:
            run.report(True, f"differential {path.name}: over 16 MiB, refused before any reader")
            continue
        data, problems = manifest_reading(run, raw)
        ferry = subprocess.run([reemit, str(path)], capture_output=True, check=False)
        label = f"differential {path.name}"
        why = " ".join(ferry.stderr.decode("utf-8", "replace").split())
        if ferry.returncode == 0 and problems:
            run.report(False, label, ["Ferry accepts it, PyYAML and the schema refuse it"] + problems)
        elif ferry.returncode != 0 and not problems:
            run.report(False, label, [f"PyYAML and the schema accept it, Ferry refuses it: {why}"])
        elif ferry.returncode == 0:
            ferry_data = yaml.load(ferry.stdout.decode("utf-8"), Loader=Loader)
            differences = [f"{key}: Ferry read {ferry_data.get(key)!r:.200}, PyYAML {data.get(key)!r:.200}"
                           for key in sorted(set(data) | set(ferry_data)) if data.get(key) != ferry_data.get(key)]
            run.report(not differences, label + ": accepted, read the same by both", differences)
        else:
            run.report(True, label + ": refused by both")


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
    run.reject("trust", "threshold 0", dict(trust, thresholds=dict(trust["thresholds"], release=0)),
               trust_semantics, "thresholds")
    run.reject("trust", "threshold above the number of keys with the role",
               dict(trust, thresholds=dict(trust["thresholds"], trust=2)), trust_semantics, "thresholds")
    run.reject("trust", "no version", {k: v for k, v in trust.items() if k != "version"}, trust_semantics,
               "version")
    bad = copy.deepcopy(trust)
    bad["keys"][0]["roles"] = ["auditor-only"]
    run.reject("trust", "an unknown role", bad, trust_semantics, "keys/0/roles/0")
    bad = copy.deepcopy(trust)
    bad["keys"][0]["id"] = bad["keys"][1]["id"]
    run.reject("trust", "an id that is not the public key's", bad, trust_semantics, "keys/0/id")


if __name__ == "__main__":
    sys.exit(main())
