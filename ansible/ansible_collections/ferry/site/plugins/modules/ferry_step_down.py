#!/usr/bin/python
# -*- coding: utf-8 -*-

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ferry_step_down
short_description: Hand a Ferry node's leadership to another node
description:
  - Runs C(ferry-applier step-down --json) on the node, which runs the installed release's
    C(cluster.step_down), as the rolling coordinator does before it upgrades a leader.
  - Always changed; in check mode it runs nothing and says it would step down.
version_added: "1.0.0"
author: Ferry
extends_documentation_fragment:
  - ferry.site.ferry
attributes:
  check_mode:
    support: full
"""

EXAMPLES = r"""
- name: Step the leader down before its upgrade
  ferry.site.ferry_step_down:
"""

RETURN = r"""
ferry:
  description: The step-down document (docs/json.md, "step-down"); C(null) in check mode.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ferry.site.plugins.module_utils.ferry import argument_spec, fail, result, run, site_flags


def main():
    module = AnsibleModule(argument_spec=argument_spec(False), supports_check_mode=True)
    if module.check_mode:
        module.exit_json(changed=True, ferry=None)
    rc, doc, err, cmd = run(module, ["step-down"] + site_flags(module))
    if rc != 0 or "error" in doc:
        fail(module, doc, rc, err, cmd)
    result(module, doc, cmd, True, "ferry_step_down")


if __name__ == "__main__":
    main()
