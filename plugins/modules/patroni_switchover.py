#!/usr/bin/python
"""Ansible module patroni_switchover: a Patroni cluster's leader hands its role to the
replica Patroni accepts, waiting for one when the synchronous standby is away."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: patroni_switchover
short_description: Hand a Patroni cluster's leadership to its synchronous standby
description:
  - Run on a member of a Patroni cluster, with C(patronictl) and Patroni's settings file.
    When the member leads its cluster, it hands its role to a replica with
    C(patronictl switchover), then waits until the replica leads and the old leader runs
    as its replica. A member that does not lead changes nothing.
  - In synchronous mode (read from the cluster's dynamic settings) Patroni accepts only
    the synchronous standby and refuses any other replica (C(412, candidate name does
    not match with sync_standby)). A standby that has just restarted is missing from
    C(patronictl list), or not yet named C(Sync Standby), for a few of Patroni's cycles,
    so the module waits for one, at most I(wait) seconds, listing the members every 2
    seconds. Without synchronous mode the synchronous standby is taken first, then any
    running replica.
  - With no other member listed there is nothing to wait for; I(required) decides
    whether that is a failure.
version_added: "0.1.0"
author: backend-db developers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: A check lists the members (waiting as a run would) and reports the replica
      it would hand over to; it hands nothing over.
  diff_mode:
    support: none
  platform:
    platforms: debian
options:
  cluster:
    description: The cluster's name (Patroni's scope).
    type: str
    required: true
  member:
    description: This member's name in the cluster (Patroni's C(name)).
    type: str
    required: true
  config:
    description: Patroni's settings file, which C(patronictl) reads.
    type: path
    default: /etc/patroni/config.yml
  wait:
    description: Seconds to wait for a replica Patroni accepts, and again for the new
      leader to lead and the old one to run.
    type: int
    default: 120
  required:
    description: Whether a leader without any replica listed fails (C(true)) or is left
      leading, unchanged (C(false)).
    type: bool
    default: true
  advice:
    description: What the operator should do next, ending the failure's sentence when
      no replica can take over.
    type: str
    default: run again
"""

EXAMPLES = r"""
- name: The leader hands its role to its synchronous standby
  backend_db.postgresql.patroni_switchover:
    cluster: payments
    member: "{{ inventory_hostname }}"
"""

RETURN = r"""
leads:
  description: Whether the member led its cluster when asked.
  returned: always
  type: bool
candidate:
  description: The replica the leader handed over to (or would, in a check); empty when none.
  returned: always
  type: str
waited:
  description: Seconds spent waiting for a replica Patroni accepts.
  returned: always
  type: float
msg:
  description: What was done, in one sentence.
  returned: always
  type: str
"""

import json  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.backend_db.postgresql.plugins.module_utils.patroni import (  # noqa: E402
    READY,
    switchover_candidate,
)


class Cluster:
    """The cluster as patronictl shows it from this member."""

    def __init__(self, module: AnsibleModule):
        self.module = module
        params = module.params
        self.name = params["cluster"]
        self.ctl = ["patronictl", "--config-file", params["config"]]

    def run(self, *arguments: str) -> str:
        rc, out, err = self.module.run_command([*self.ctl, *arguments])
        if rc != 0:
            self.module.fail_json(
                msg=f"patronictl {arguments[0]} failed on this member: {(err or out).strip()}"
            )
        return out

    def members(self) -> list[dict]:
        try:
            listed = json.loads(self.run("list", "--format", "json", self.name) or "[]")
        except ValueError:
            return []
        return listed if isinstance(listed, list) else []

    def synchronous(self) -> bool:
        """Whether the dynamic settings put the cluster in synchronous mode (a top-level
        key of show-config's YAML; quorum mode is synchronous too)."""
        shown = self.run("show-config", self.name)
        found = re.search(r"^synchronous_mode:\s*['\"]?([^'\"\s]+)", shown, re.MULTILINE)
        return bool(found) and found.group(1).lower() in ("true", "on", "yes", "1", "quorum")


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "cluster": {"type": "str", "required": True},
            "member": {"type": "str", "required": True},
            "config": {"type": "path", "default": "/etc/patroni/config.yml"},
            "wait": {"type": "int", "default": 120},
            "required": {"type": "bool", "default": True},
            "advice": {"type": "str", "default": "run again"},
        },
        supports_check_mode=True,
    )
    params = module.params
    me, wait = params["member"], params["wait"]
    cluster = Cluster(module)
    result = {"changed": False, "leads": False, "candidate": "", "waited": 0.0}

    listed = cluster.members()
    leaders = [m.get("Member") for m in listed if m.get("Role") == "Leader"]
    if leaders != [me]:
        module.exit_json(msg=f"{me} does not lead {cluster.name}; nothing to hand over", **result)
    result["leads"] = True

    synchronous = cluster.synchronous()
    started = time.monotonic()
    while True:
        candidate = switchover_candidate(listed, me, synchronous)
        others = [str(m.get("Member")) for m in listed if m.get("Member") != me]
        if candidate or not others or time.monotonic() - started >= wait:
            break
        time.sleep(2)
        listed = cluster.members()
    result["waited"] = round(time.monotonic() - started, 1)

    if not candidate:
        if others:
            missing = (
                f"No replica of {cluster.name} became its synchronous standby within {wait} s"
                f" (Patroni lists {', '.join(others)}, none running as Sync Standby)"
                if synchronous
                else f"No replica of {cluster.name} runs to take over from {me} within {wait} s"
                f" (Patroni lists {', '.join(others)})"
            )
        elif params["required"]:
            missing = f"No replica of {cluster.name} runs to take over from {me}"
        else:
            module.exit_json(msg=f"{cluster.name} has no replica; {me} still leads", **result)
        module.fail_json(
            msg=f"{missing}: bring the replicas back (`patronictl list`), then"
            f" {params['advice']}; {me} still leads.",
            **result,
        )

    result.update(changed=True, candidate=candidate)
    waited = f" after waiting {result['waited']:g} s for it" if result["waited"] else ""
    if module.check_mode:
        module.exit_json(msg=f"{me} would hand over to {candidate}{waited}", **result)

    said = cluster.run(
        "switchover", "--leader", me, "--candidate", candidate, "--force", cluster.name
    )
    if "Successfully switched over" not in said:
        module.fail_json(
            msg=f"Patroni did not switch over from {me} to {candidate}: {said}", **result
        )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        listed = cluster.members()
        roles = {m.get("Member"): (m.get("Role"), m.get("State")) for m in listed}
        if roles.get(candidate, ("",))[0] == "Leader" and roles.get(me, ("", ""))[1] in READY:
            module.exit_json(msg=f"{me} handed over to {candidate}{waited}", **result)
        time.sleep(2)
    module.fail_json(
        msg=f"{candidate} does not lead {cluster.name} with {me} running as its replica"
        f" {wait} s after the switchover (Patroni lists {json.dumps(listed)})",
        **result,
    )


if __name__ == "__main__":
    main()
