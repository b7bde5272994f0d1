"""The alert rules the collection ships (roles/monitoring/files/alerts.yml): `promtool test rules`
passes, every alert fires in a case of its own and stays quiet on the healthy cluster,
and every alert has its runbook in docs/operations.md, where its annotation points."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from devtools.paths import BIN, ROOT

MONITORING = ROOT / "roles/monitoring/files"
RULES = yaml.safe_load((MONITORING / "alerts.yml").read_text())
CASES = yaml.safe_load((MONITORING / "alerts_test.yml").read_text())
ALERTS = [rule for group in RULES["groups"] for rule in group["rules"] if "alert" in rule]
NAMES = [rule["alert"] for rule in ALERTS]
HEALTHY = CASES["tests"][0]


def promtool(*args: str, cwd=MONITORING) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "promtool"), *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )  # fmt: skip


def test_the_rules_are_valid_and_their_unit_tests_pass():
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(NAMES)} rules found" in checked.stdout
    tested = promtool("test", "rules", "alerts_test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_a_broken_rule_fails_its_unit_test(tmp_path):
    """The cases can fail: with one threshold moved, promtool says which alert did not fire."""
    broken = (MONITORING / "alerts.yml").read_text().replace("> 0.85", "> 0.95")
    (tmp_path / "alerts.yml").write_text(broken)
    (tmp_path / "alerts_test.yml").write_text((MONITORING / "alerts_test.yml").read_text())
    result = promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert result.returncode != 0
    assert "BackendDbConnectionsNearLimit" in result.stdout + result.stderr


@pytest.mark.parametrize("name", NAMES)
def test_each_alert_fires_in_a_case_of_its_own_and_not_on_the_healthy_cluster(name):
    quiet = [case for case in HEALTHY["alert_rule_test"] if case["alertname"] == name]
    assert quiet and all(case["exp_alerts"] == [] for case in quiet), f"{name}: no healthy case"
    fired = [
        case
        for test in CASES["tests"][1:]
        for case in test["alert_rule_test"]
        if case["alertname"] == name and case["exp_alerts"]
    ]
    assert fired, f"{name} fires in no case of roles/monitoring/files/alerts_test.yml"


@pytest.mark.parametrize("rule", ALERTS, ids=NAMES)
def test_each_alert_has_its_runbook_in_the_operations_guide(rule):
    anchor = rule["alert"].lower()
    assert rule["annotations"]["runbook"] == f"docs/operations.md#{anchor}"
    assert rule["labels"]["severity"] in ("critical", "warning")
    guide = (ROOT / "docs/operations.md").read_text()
    section = re.search(rf"^#### {rule['alert']}\n\n(.+?)(?=^#|\Z)", guide, re.M | re.S)
    assert section and len(section.group(1).split()) >= 15, f"no runbook for {rule['alert']}"
