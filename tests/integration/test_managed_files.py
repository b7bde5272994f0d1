"""managed_files through Ansible itself, writing into a scratch directory of this machine."""

from __future__ import annotations

import grp
import json
import os
import pwd
import stat
from pathlib import Path

from tests.helpers import module_manual, run_module

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def entry(path, **given) -> dict:
    return {"path": str(path), "owner": USER, "group": GROUP, "mode": "0640"} | given


def write(*files: dict, extra: tuple[str, ...] = ()):
    completed, result = run_module("managed_files", json.dumps({"files": list(files)}), extra=extra)
    return completed, result


def mode_of(path) -> str:
    return oct(stat.S_IMODE(os.stat(path).st_mode))


def test_files_are_written_once_with_their_mode_and_a_second_call_changes_nothing(tmp_path):
    config, units = tmp_path / "a.conf", tmp_path / "b.timer"
    files = (entry(config, content="port = 5432\n"), entry(units, content="[Timer]\n", mode="0644"))
    completed, result = write(*files)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert result["changed"] is True
    assert [file["changed"] for file in result["files"]] == [True, True]
    assert config.read_text() == "port = 5432\n" and mode_of(config) == "0o640"
    assert units.read_text() == "[Timer]\n" and mode_of(units) == "0o644"
    # No temporary file is left beside them.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.conf", "b.timer"]
    _, again = write(*files)
    assert again["changed"] is False
    assert [file["changed"] for file in again["files"]] == [False, False]


def test_a_mode_or_content_that_differs_is_made_right_and_only_that_file_changes(tmp_path):
    kept, moved = tmp_path / "kept.conf", tmp_path / "moved.conf"
    kept.write_text("same\n")
    kept.chmod(0o640)
    moved.write_text("old\n")
    moved.chmod(0o666)
    _, result = write(entry(kept, content="same\n"), entry(moved, content="new\n"))
    assert [file["changed"] for file in result["files"]] == [False, True]
    assert moved.read_text() == "new\n" and mode_of(moved) == "0o640"
    # A file given without content keeps it; its mode is made right.
    moved.chmod(0o600)
    _, result = write(entry(moved))
    assert result["changed"] is True and moved.read_text() == "new\n" and mode_of(moved) == "0o640"


def test_a_check_says_what_would_change_shows_the_diff_and_writes_nothing(tmp_path):
    config = tmp_path / "a.conf"
    config.write_text("listen_addresses = '*'\nmax_connections = 100\n")
    config.chmod(0o640)
    missing = tmp_path / "dir"
    completed, result = write(
        entry(config, content="listen_addresses = '*'\nmax_connections = 123\n"),
        entry(missing, state="directory", mode="0750"),
        extra=("--check", "--diff"),
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert result["changed"] is True
    assert "-max_connections = 100" in result["diff"]["prepared"]
    assert "+max_connections = 123" in result["diff"]["prepared"]
    assert config.read_text() == "listen_addresses = '*'\nmax_connections = 100\n"
    assert not missing.exists()


def test_a_replaced_file_is_kept_when_asked_and_a_directory_is_made_with_its_mode(tmp_path):
    config, directory = tmp_path / "a.conf", tmp_path / "spool" / "archive"
    config.write_text("old\n")
    _, result = write(
        entry(config, content="new\n", backup=True),
        entry(directory, state="directory", mode="0750"),
    )
    backup = result["files"][0]["backup_file"]
    assert Path(backup).read_text() == "old\n" and config.read_text() == "new\n"
    assert directory.is_dir() and mode_of(directory) == "0o750"
    assert "backup_file" not in result["files"][1]


def test_what_cannot_be_made_stops_the_call_in_one_sentence_and_nothing_after_it_is_written(
    tmp_path,
):
    first, later = tmp_path / "first.conf", tmp_path / "later.conf"
    completed, result = write(
        entry(first, content="one\n"),
        entry(tmp_path / "absent.conf"),
        entry(later, content="two\n"),
    )
    assert completed.returncode != 0
    assert result["msg"] == (
        f"{tmp_path / 'absent.conf'} does not exist, and no content was given for it; "
        "nothing else was written after it."
    )
    assert first.read_text() == "one\n" and not later.exists()
    _, result = write(entry(later, content="two\n", owner="backend-db-no-such-user"))
    assert "the user backend-db-no-such-user does not exist on the host" in result["msg"]
    assert not later.exists()


def test_the_content_never_appears_in_the_output_even_verbose(tmp_path):
    secret = "repo1-cipher-pass=backend-db-secret-value-7f3a"
    files = [entry(tmp_path / "pgbackrest.conf", content=f"[global]\n{secret}\n", mode="0600")]
    completed, _ = run_module(
        "managed_files", json.dumps({"files": files}), extra=("-vvv",), json_output=False
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "CHANGED" in completed.stdout
    assert secret not in completed.stdout + completed.stderr
    assert (tmp_path / "pgbackrest.conf").read_text() == f"[global]\n{secret}\n"


def test_the_manual_documents_every_option():
    manual = module_manual("managed_files")
    for option in ("files", "path", "content", "state", "owner", "group", "mode", "backup"):
        assert option in manual
