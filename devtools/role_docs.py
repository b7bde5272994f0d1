"""Each role README's table of variables, written from the role's own declarations.

A variable is stated by hand in two files only: its value in defaults/main.yml and what it
means (type, description) in meta/argument_specs.yml, which Ansible checks and
`ansible-doc -t role` shows. The README's table is written from those two by `make docs`
(`python -m devtools.role_docs`); `--check` says which README differs instead, and a unit
test runs it, so a table edited by hand or left behind fails `make check`.
"""

from __future__ import annotations

import re
import sys

import yaml

from devtools.paths import ROOT

BEGIN = (
    "<!-- Written by `make docs` from meta/argument_specs.yml and defaults/main.yml:"
    " edit those, not this table. -->"
)
END = "<!-- End of the written table. -->"
# Where a README's table goes: between the markers, or (the first time) the table that
# follows the heading "## Variables".
WRITTEN = re.compile(re.escape(BEGIN) + r"\n.*?" + re.escape(END), re.S)
BY_HAND = re.compile(r"(?<=## Variables\n\n)\| Variable \| Default \| Meaning \|\n(?:\|.*\n)+")


def roles() -> list[str]:
    return sorted(path.parent.parent.name for path in ROOT.glob("roles/*/meta/argument_specs.yml"))


def flow(value: object) -> str:
    """A value as YAML writes it on one line (what a user would put in the inventory)."""
    if value == "":
        return '""'
    written = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return written.removesuffix("...").strip()


# A default that is one of the shared role's values (backend_*), or made of them.
SHARED = re.compile(r"\{\{ (backend_\w+) \}\}")


def shared_defaults() -> dict:
    """The shared role's values as its defaults give them."""
    return yaml.safe_load((ROOT / "roles/shared/defaults/main.yml").read_text()) or {}


def resolved_defaults(role: str) -> dict:
    """A role's defaults as a run gives them where they are a shared value (the shared
    role's own defaults included, for the roles that depend on it); other templates as
    written."""
    shared = shared_defaults()
    own = yaml.safe_load((ROOT / "roles" / role / "defaults/main.yml").read_text()) or {}
    resolved = {
        name: shared[match[1]]
        if isinstance(value, str) and (match := SHARED.fullmatch(value)) and match[1] in shared
        else value
        for name, value in own.items()
    }
    return shared | resolved


def default_cell(spec: dict, defaults: dict, name: str) -> str:
    """The default as a reader needs it: the value, the shared value it is, or words
    where it is computed."""
    if spec.get("required"):
        return "required"
    value = defaults.get(name)
    if name in defaults and "{{" not in str(value):
        return "`" + flow(value) + "`"
    if isinstance(value, str) and (match := SHARED.fullmatch(value)):
        shared = shared_defaults().get(match[1])
        plain = shared is not None and "{{" not in str(shared)
        return f"`{match[1]}`" + (f" (`{flow(shared)}`)" if plain else "")
    if isinstance(value, str) and not SHARED.sub("", value).count("{"):
        return "`" + value + "`"  # made of shared values only: as written
    declared = spec.get("default")
    if isinstance(declared, str) and declared and "{{" not in declared:
        return declared  # the declaration says in words what the template computes
    return "computed (see its meaning)"


def meaning(spec: dict) -> str:
    description = spec.get("description", "")
    if isinstance(description, list):
        description = " ".join(description)
    text = " ".join(description.split())
    if spec.get("choices"):
        text += " One of " + ", ".join(f"`{flow(choice)}`" for choice in spec["choices"]) + "."
    return text.replace("|", "\\|")


def role_options(role: str) -> dict:
    """The options of a role's main entry point, as its argument specs give them (for a
    role without tasks, the shared role, those of its entry point "values")."""
    text = (ROOT / "roles" / role / "meta/argument_specs.yml").read_text()
    entries = yaml.safe_load(text)["argument_specs"]
    return (entries.get("main") or entries["values"])["options"]


def table(role: str) -> str:
    base = ROOT / "roles" / role
    defaults = yaml.safe_load((base / "defaults/main.yml").read_text()) or {}
    rows = [BEGIN, "| Variable | Default | Meaning |", "|---|---|---|"]
    for name, spec in role_options(role).items():
        rows.append(f"| `{name}` | {default_cell(spec, defaults, name)} | {meaning(spec)} |")
    return "\n".join([*rows, END])


def written(role: str) -> tuple[str, str]:
    """The README as it is and as it should be."""
    path = ROOT / "roles" / role / "README.md"
    text = path.read_text()
    if WRITTEN.search(text):
        return text, WRITTEN.sub(lambda _: table(role), text, count=1)
    if BY_HAND.search(text):
        return text, BY_HAND.sub(lambda _: table(role) + "\n", text, count=1)
    raise SystemExit(f"roles/{role}/README.md has no table of variables under '## Variables'")


def main(argv: list[str]) -> int:
    stale = []
    for role in roles():
        now, wanted = written(role)
        if now == wanted:
            continue
        stale.append(f"roles/{role}/README.md")
        if "--check" not in argv:
            (ROOT / "roles" / role / "README.md").write_text(wanted)
    if stale and "--check" in argv:
        print(f"{', '.join(stale)}: the table of variables is not as `make docs` writes it; run it")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
