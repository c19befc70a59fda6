#!/usr/bin/python
# -*- coding: utf-8 -*-

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ferry_stage
short_description: Verify a Ferry bundle and copy it into the node's state folder ahead of apply
description:
  - Runs C(ferry-applier stage BUNDLE --json) on the node; a later apply of the same bundle
    reads the staged copy. A copy that stopped is carried on from its last intact chunk.
  - Changed when it staged the bundle; not changed when a verified copy was staged already or
    the bundle is installed.
  - In check mode it runs C(plan) and reads C(status) instead, and says whether it would stage.
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
- name: Stage the bundle before the window
  ferry.site.ferry_stage:
    bundle: /media/usb/greeter-2.0.0.ferry
"""

RETURN = r"""
ferry:
  description: >-
    The stage document (docs/json.md, "stage"); in check mode the plan document. Also the
    fact C(ferry_stage).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ferry.site.plugins.module_utils.ferry import (
    argument_spec, bundle_flags, fail, manifest_sha256, plan, result, run, site_flags)


def staged_already(module):
    """Whether a verified copy of the bundle's manifest is in the node's state folder."""
    try:
        sha = manifest_sha256(module.params["bundle"])
    except Exception as e:  # the plan has read it; this is for a bundle that changed since
        module.fail_json(msg="%s: cannot read its manifest: %s" % (module.params["bundle"], e), rc=1)
    rc, doc, err, cmd = run(module, ["status"] + site_flags(module, root=False))
    if "error" in doc:
        fail(module, doc, rc, err, cmd)
    return any(s.get("manifest_sha256") == sha and s.get("state") == "verified" for s in doc.get("staged") or [])


def main():
    module = AnsibleModule(argument_spec=argument_spec(True), supports_check_mode=True)
    if module.check_mode:
        doc, cmd = plan(module)
        would = doc["result"] == "ok" and not staged_already(module)
        result(module, doc, cmd, would, "ferry_stage")
    rc, doc, err, cmd = run(module, ["stage", "-q"] + bundle_flags(module) + site_flags(module))
    if rc != 0 or "error" in doc:
        fail(module, doc, rc, err, cmd)
    result(module, doc, cmd, doc["result"] == "staged", "ferry_stage")


if __name__ == "__main__":
    main()
