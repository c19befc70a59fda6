# -*- coding: utf-8 -*-
# The options every ferry.site module shares, and those of the modules that take a bundle.

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  applier:
    description:
      - The node's C(ferry-applier), a path or a name looked up on the node's C(PATH).
    type: str
    default: ferry-applier
  root:
    description:
      - The install root on the node (C(--root)); every install path is below it.
      - Default C(/).
    type: path
  state_dir:
    description:
      - The applier's state folder on the node (C(--state-dir)).
      - Default C(/var/lib/ferry).
    type: path
  env:
    description:
      - Variables added to the applier's environment, which its hooks and checks see (the
        inventory's C(vars) of C(apply --inventory)).
    type: dict
    default: {}
notes:
  - Runs the node's own C(ferry-applier ... --json) and returns its one JSON document
    (docs/json.md) as C(ferry), and as the fact named after the module.
  - A failing command fails the task with Ferry's message as C(msg), its exit code as C(rc)
    (README, "Exit codes"), and C(kind), C(hint) and the document as C(ferry).
"""

    BUNDLE = r"""
options:
  bundle:
    description:
      - The C(.ferry) bundle, a path on the node.
    type: path
    required: true
  trust:
    description:
      - The trust store on the node (C(--trust)); default the node's own, C(/etc/ferry/trust.yaml).
    type: path
  allow_major:
    description: Accept a major version upgrade (C(--allow-major)).
    type: bool
    default: false
  ack_breaking:
    description: Acknowledge the bundle's declared breaking changes (C(--ack-breaking)).
    type: bool
    default: false
  allow_downgrade:
    description: Accept an older version, sequence or signing time (C(--allow-downgrade)).
    type: bool
    default: false
"""
