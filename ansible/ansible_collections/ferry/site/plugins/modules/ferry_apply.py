#!/usr/bin/python
# -*- coding: utf-8 -*-

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ferry_apply
short_description: Verify a Ferry bundle and upgrade the node, rolled back on failure
description:
  - Runs C(ferry-applier apply BUNDLE --json) on the node (from its staged copy when
    C(ferry_stage) staged it): stop, install, migrate, start, health and smoke checks; a
    failure rolls the node back to the version it had.
  - Changed when it installed the bundle; not changed when the bundle is installed already.
  - A failure fails the task with Ferry's message and exit code, e.g. C(rc) 5 when the
    procedure failed and the node was rolled back, 6 when the rollback failed too, 4 when
    policy refuses the bundle, 3 when it does not verify.
  - In check mode it runs C(plan) instead, and is changed when apply would install the
    bundle (its plan's C(result) is C(ok)); a refusal fails the task as apply would.
version_added: "1.0.0"
author: Ferry
extends_documentation_fragment:
  - ferry.site.ferry
  - ferry.site.ferry.BUNDLE
attributes:
  check_mode:
    support: full
"""

EXAMPLES = r"""
- name: Upgrade the node
  ferry.site.ferry_apply:
    bundle: /media/usb/greeter-2.0.0.ferry
    allow_major: true
    ack_breaking: true
    env:
      GREETER_PORT: "8080"
"""

RETURN = r"""
ferry:
  description: >-
    The apply document (docs/json.md, "apply"): C(result) C(applied) or C(already_installed),
    C(from), C(to), C(run), C(notes); in check mode the plan document. Also the fact
    C(ferry_apply).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ferry.site.plugins.module_utils.ferry import (
    argument_spec, bundle_flags, fail, plan, result, run, site_flags)


def main():
    module = AnsibleModule(argument_spec=argument_spec(True), supports_check_mode=True)
    if module.check_mode:
        doc, cmd = plan(module)
        result(module, doc, cmd, doc["result"] == "ok", "ferry_apply")
    rc, doc, err, cmd = run(module, ["apply", "-q"] + bundle_flags(module) + site_flags(module))
    if rc != 0 or "error" in doc:
        fail(module, doc, rc, err, cmd)
    result(module, doc, cmd, doc["result"] in ("applied", "resumed"), "ferry_apply")


if __name__ == "__main__":
    main()
