"""Every test the documentation names exists where it says, and runs in `make test`.

docs/reliability.md names, for each behaviour, the test that proves it; README.md and the
other documents name test files. A test moved or renamed without its documents would
leave a claim no test holds: this reads every `path.py::test_name` (and the `::test_name`
after it in the same line, which means the same file) and finds each one.
CHANGELOG.md is history: the paths it names were right when written.
"""

from __future__ import annotations

import re

import pytest

from devtools.lanes import plan
from devtools.paths import ROOT

DOCUMENTS = sorted([ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("roles/*/README.md")])
REFERENCE = re.compile(r"((?:tests|molecule|bench|devtools)/[\w/.-]+\.py)|::(\w+)")


def references() -> list[tuple[str, str, str | None]]:
    """(document, file, test name or None) for every test file and test the documents name."""
    found = []
    for document in DOCUMENTS:
        for line in document.read_text().splitlines():
            current = None
            for match in REFERENCE.finditer(line):
                path, name = match.groups()
                if path:
                    current = path
                    found.append((document.relative_to(ROOT).as_posix(), path, None))
                elif current and name:
                    found.append((document.relative_to(ROOT).as_posix(), current, name))
    return found


def test_the_documents_name_tests_at_all():
    assert len([name for *_, name in references() if name]) > 50


@pytest.mark.parametrize(
    "document, path, name", references(), ids=lambda value: str(value).split("/")[-1]
)
def test_each_named_test_exists_and_runs_in_make_test(document, path, name):
    source = ROOT / path
    assert source.exists(), f"{document} names {path}, which does not exist"
    if name is None or not name.startswith("test_"):
        return
    assert re.search(rf"^(    )?def {name}\(", source.read_text(), re.M), (
        f"{document} names {path}::{name}, which that file does not define"
    )
    scenarios = {part.name.removeprefix("molecule-") for part in plan("test")}
    if path.startswith("molecule/"):
        assert path.split("/")[1] in scenarios, f"{path}: its scenario is not in make test"
    else:
        assert path.startswith("tests/"), f"{document} names {path}: not a test make test runs"
