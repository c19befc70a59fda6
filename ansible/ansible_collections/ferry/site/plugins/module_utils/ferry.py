# -*- coding: utf-8 -*-
# What the ferry.site modules share: the options, and running the node's own
# `ferry-applier ... --json`, whose one JSON document (docs/json.md) becomes the module's result.
# A failing command fails the task with Ferry's own message (error.message) and exit code (rc).

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import tarfile

# Where the applier and the node's files are: every module takes these.
SITE_ARGS = dict(
    applier=dict(type="str", default="ferry-applier"),
    root=dict(type="path"),
    state_dir=dict(type="path"),
    env=dict(type="dict", default={}),
)

# The bundle, the trust store and the policy flags, as `plan`, `stage` and `apply` take them.
BUNDLE_ARGS = dict(
    bundle=dict(type="path", required=True),
    trust=dict(type="path"),
    allow_major=dict(type="bool", default=False),
    ack_breaking=dict(type="bool", default=False),
    allow_downgrade=dict(type="bool", default=False),
)


def argument_spec(with_bundle, **more):
    spec = dict(SITE_ARGS)
    if with_bundle:
        spec.update(BUNDLE_ARGS)
    spec.update(more)
    return spec


def applier_path(module):
    """The applier to run: the option's path, or the name looked up on the node's PATH."""
    applier = module.params["applier"]
    if os.sep in applier:
        if os.path.isfile(applier) and os.access(applier, os.X_OK):
            return applier
        module.fail_json(msg="there is no %s on this node: install the ferry-applier package, "
                             "or give the applier option its path" % applier, rc=None)
    found = module.get_bin_path(applier)
    if found is None:
        module.fail_json(msg="there is no %s on this node's PATH: install the ferry-applier package, "
                             "or give the applier option its path" % applier, rc=None)
    return found


def site_flags(module, root=True):
    flags = []
    if root and module.params["root"]:
        flags += ["--root", module.params["root"]]
    if module.params["state_dir"]:
        flags += ["--state-dir", module.params["state_dir"]]
    return flags


def bundle_flags(module):
    flags = [module.params["bundle"]]
    if module.params["trust"]:
        flags += ["--trust", module.params["trust"]]
    for option, flag in (("allow_major", "--allow-major"), ("ack_breaking", "--ack-breaking"),
                         ("allow_downgrade", "--allow-downgrade")):
        if module.params[option]:
            flags.append(flag)
    return flags


def run(module, args):
    """Runs `ferry-applier ARGS --json`; returns (rc, document, stderr, cmd). A command that prints
    no JSON document (not a ferry-applier, one too old) fails the task, saying so."""
    cmd = [applier_path(module)] + args + ["--json"]
    env = dict((str(k), str(v)) for k, v in module.params["env"].items())
    rc, out, err = module.run_command(cmd, environ_update=env, check_rc=False)
    try:
        doc = json.loads(out)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or "result" not in doc:
        module.fail_json(msg="%s printed no JSON document (exit %s): %s"
                             % (cmd[0], rc, (err or out).strip() or "no output"),
                         rc=rc, cmd=cmd, stdout=out, stderr=err)
    return rc, doc, err, cmd


def fail(module, doc, rc, err, cmd):
    """Fails the task with the error document's message, hint and exit code."""
    error = doc.get("error") or {}
    module.fail_json(msg=error.get("message") or "%s exited %s" % (cmd[0], rc),
                     rc=error.get("exit_code", rc), kind=error.get("kind", ""), hint=error.get("hint", ""),
                     ferry=doc, cmd=cmd, stderr=err)


def refused(module, doc, rc, err, cmd):
    """Fails the task for a plan that says apply would be refused (exit 4), naming every reason."""
    reasons = doc.get("refusals") or []
    module.fail_json(msg="refused: " + ("; ".join(reasons) if reasons else "apply would be refused"),
                     rc=rc, kind="policy", hint="", ferry=doc, cmd=cmd, stderr=err)


def plan(module):
    """The node's plan for the bundle, the task failed when it is refused or fails."""
    rc, doc, err, cmd = run(module, ["plan"] + bundle_flags(module) + site_flags(module))
    if "error" in doc:
        fail(module, doc, rc, err, cmd)
    if doc["result"] == "refused" or rc != 0:
        refused(module, doc, rc, err, cmd)
    return doc, cmd


def manifest_sha256(path):
    """The SHA-256 of the bundle's signed manifest, which names its staged copy (docs/audit.md)."""
    with tarfile.open(path, "r:") as bundle:
        member = bundle.extractfile("manifest.yaml")
        return hashlib.sha256(member.read()).hexdigest()


def result(module, doc, cmd, changed, fact, **more):
    module.exit_json(changed=changed, ferry=doc, cmd=cmd, ansible_facts={fact: doc}, **more)
