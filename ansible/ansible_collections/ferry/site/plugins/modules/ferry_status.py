#!/usr/bin/python
# -*- coding: utf-8 -*-

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ferry_status
short_description: What is installed on a Ferry node, and its role and health
description:
  - Runs C(ferry-applier status --json) on the node, with C(--probe) its role (the installed
    release's C(cluster.role)) and its health checks, run once. It changes nothing.
  - A node that another applier holds (exit 4), whose run was interrupted (7) or whose rollback
    failed (6) fails the task, saying what to do, unless C(fail_on_problem) is false.
version_added: "1.0.0"
author: Ferry
extends_documentation_fragment:
  - ferry.site.ferry
options:
  probe:
    description: Also ask the installed release its role and run its health checks once.
    type: bool
    default: false
  fail_on_problem:
    description: Fail when the node is busy, interrupted or failed (the status's exit code is not 0).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
"""

EXAMPLES = r"""
- name: Ask the node its version and role
  ferry.site.ferry_status:
    probe: true
  register: node

- ansible.builtin.debug:
    msg: "{{ node.ferry.installed.version }} {{ node.ferry.probe.role }}"
"""

RETURN = r"""
ferry:
  description: >-
    The status document (docs/json.md, "status"): C(node), C(installed), C(staged), with
    C(probe) the C(probe.role) and C(probe.healthy). Also the fact C(ferry_status).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ferry.site.plugins.module_utils.ferry import argument_spec, fail, result, run, site_flags

# What a node in each state needs (docs/operator.md).
PROBLEMS = {
    "in_progress": "another ferry-applier works on the node (pid %s): wait for it to end",
    "interrupted": "run %s of %s %s was interrupted: finish it with `ferry-applier resume` or undo it with "
                   "`ferry-applier rollback` on the node",
    "failed": "run %s of %s %s failed and so did its rollback: repair the node (docs/operator.md, "
              "\"When a rollback fails\")",
}


def problem(doc):
    state = doc.get("node")
    if state == "in_progress":
        return PROBLEMS[state] % ((doc.get("in_progress") or {}).get("pid"),)
    if state in ("interrupted", "failed"):
        run_ = doc.get(state) or {}
        return PROBLEMS[state] % (run_.get("run"), run_.get("bundle"), run_.get("version"))
    return "the node's status is %s" % state


def main():
    module = AnsibleModule(argument_spec=argument_spec(False, probe=dict(type="bool", default=False),
                                                      fail_on_problem=dict(type="bool", default=True)),
                           supports_check_mode=True)
    args = ["status"] + site_flags(module, root=False)
    if module.params["probe"]:
        args.append("--probe")
        if module.params["root"]:
            args += ["--root", module.params["root"]]
    rc, doc, err, cmd = run(module, args)
    if "error" in doc:
        fail(module, doc, rc, err, cmd)
    if rc != 0 and module.params["fail_on_problem"]:
        module.fail_json(msg=problem(doc), rc=rc, kind="", hint="", ferry=doc, cmd=cmd, stderr=err)
    result(module, doc, cmd, False, "ferry_status", rc=rc)


if __name__ == "__main__":
    main()
