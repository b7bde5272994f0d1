"""The collection's metadata and what its build leaves out, read from the repository."""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile

import yaml

from devtools.paths import BIN, ROOT


def test_the_metadata_agrees_with_itself():
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    project = (ROOT / "pyproject.toml").read_text()
    assert f'\nversion = "{galaxy["version"]}"\n' in project, "pyproject.toml's version differs"
    # A module cannot have been added in a version later than the collection's.
    version = tuple(int(part) for part in galaxy["version"].split("."))
    for path in (ROOT / "plugins/modules").glob("*.py"):
        (added,) = re.findall(r'^version_added: "([\d.]+)"$', path.read_text(), re.M)
        assert tuple(int(part) for part in added.split(".")) <= version, path.name
    required = yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]
    assert {entry["name"]: entry["version"] for entry in required} == galaxy["dependencies"]
    runtime = yaml.safe_load((ROOT / "meta/runtime.yml").read_text())
    for meta in ROOT.glob("roles/*/meta/main.yml"):
        claimed = yaml.safe_load(meta.read_text())["galaxy_info"]["min_ansible_version"]
        assert runtime["requires_ansible"] == f">={claimed}.0", meta


def test_the_build_leaves_out_every_secret_at_any_depth(tmp_path):
    """An inventory copied beside the example keeps its CA key and vault in the tree."""
    tree = tmp_path / "tree"
    # The checkout as it is, less what git ignores and is large (git may not be here).
    shutil.copytree(
        ROOT, tree, symlinks=True,
        ignore=shutil.ignore_patterns(".git", ".venv", ".build", ".lock-venv", ".secrets",
                                      ".ansible", ".cache", "output", "__pycache__", "*.tar.gz",
                                      "*_cache"),
    )  # fmt: skip
    planted = [
        "inventories/production/.secrets/ca/ca.key",
        "inventories/production/.secrets/ca/ca.crt",
        "inventories/production/.secrets/backend_owner",
        "inventories/production/group_vars/dbservers/vault.yml",
        "inventories/production/group_vars/all/vault.yaml",
        "inventories/production/group_vars/dbservers/vault",
        "roles/postgresql/files/server.key",
        ".secrets/local/backup_repo_cipher_pass",
    ]
    for name in planted:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text("planted secret\n")
    built = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--output-path",
         str(tmp_path / "dist"), str(tree)], capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (artifact,) = (tmp_path / "dist").glob("*.tar.gz")
    with tarfile.open(artifact) as archive:
        names = archive.getnames()
        shipped = [name for name in names if archive.getmember(name).isfile()
                   and b"planted secret" in archive.extractfile(name).read()]  # fmt: skip
    assert shipped == [], shipped
    assert "inventories/example/group_vars/dbservers/vault.yml.example" in names


def test_every_playbook_is_called_by_its_collection_name():
    """A collection's resource name is letters, digits and _ (a hyphen cannot be called)."""
    names = sorted(path.stem for path in (ROOT / "playbooks").glob("*.yml"))
    assert [name for name in names if not re.fullmatch(r"[a-z][a-z0-9_]*", name)] == []
    checked = subprocess.run(
        [str(BIN / "ansible-playbook"), "--syntax-check", "-i", "localhost,",
         *(f"backend_db.postgresql.{name}" for name in names)],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-2000:]
    for name in names:
        assert f"ansible_collections/backend_db/postgresql/playbooks/{name}.yml" in checked.stdout
