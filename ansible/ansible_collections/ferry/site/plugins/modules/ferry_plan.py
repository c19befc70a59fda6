#!/usr/bin/python
# -*- coding: utf-8 -*-

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ferry_plan
short_description: What applying a Ferry bundle would do on the node
description:
  - Runs C(ferry-applier plan BUNDLE --json) on the node. It changes nothing.
  - Fails, with every reason as C(msg) and C(rc) 4, when apply would be refused.
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
- name: Ask the node what apply would do
  ferry.site.ferry_plan:
    bundle: /var/lib/ferry/inbox/greeter-2.0.0.ferry
    ack_breaking: true
  register: plan

- ansible.builtin.debug:
    msg: "{{ plan.ferry.from }} -> {{ plan.ferry.to }}: {{ plan.ferry.result }}"
"""

RETURN = r"""
ferry:
  description: The plan document (docs/json.md, "plan"); also the fact C(ferry_plan).
  returned: always
  type: dict
would_change:
  description: Whether apply would install the bundle (C(result) C(ok)); false when it is installed already.
  returned: success
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ferry.site.plugins.module_utils.ferry import argument_spec, plan, result


def main():
    module = AnsibleModule(argument_spec=argument_spec(True), supports_check_mode=True)
    doc, cmd = plan(module)
    result(module, doc, cmd, False, "ferry_plan", would_change=doc["result"] == "ok")


if __name__ == "__main__":
    main()
