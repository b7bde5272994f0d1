"""A template's compiled code is kept for the run's later tasks (plugins/plugin_utils/
compiled.py, installed by the preload callback): each task's process is a new process, and
Ansible compiled every template it rendered again (docs/performance.md, section 21)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from devtools.paths import ROOT

# Renders each template given, as a task's process does, with the code kept in a folder;
# with "--no-compiling", Jinja's parser is made unusable first, so that only a template
# whose code is kept there can render.
RENDER = r"""
import json, sys
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader([sys.argv[1]])
from ansible.template import Templar, trust_as_template
from ansible_collections.backend_db.postgresql.plugins.plugin_utils import compiled
folder, compiling, templates = sys.argv[2], sys.argv[3] == "--compiling", json.loads(sys.argv[4])
if folder:
    compiled.keep_compiled_code(folder)
if not compiling:
    import jinja2
    def unusable(*args, **kwargs):
        raise RuntimeError("compiled again")
    jinja2.Environment._parse = unusable
variables = {"name": "backend", "items": [1, 2, 3]}
results = []
for text, escape in templates:
    try:
        templar = Templar(variables=variables)
        results.append(["ok", templar.template(trust_as_template(text), escape_backslashes=escape)])
    except Exception as error:
        results.append(["error", type(error).__name__ + ": " + str(error)[:80]])
print(json.dumps(results))
"""
TEMPLATES = [
    ["{{ name | upper }}-{{ items | map('string') | join(',') }}", True],
    # The same text, escaped and not: two different programs.
    ["{{ 'a\\nb' }}", True],
    ["{{ 'a\\nb' }}", False],
    ["{% for item in items %}{{ item * 2 }}{% endfor %}", True],
    # Its own delimiters in a header: another lexer.
    ["#jinja2:variable_start_string:'[[', variable_end_string:']]'\n[[ name ]]{{ name }}", True],
]


def render(folder, templates, compiling=True) -> list:
    done = subprocess.run(
        [sys.executable, "-c", RENDER, str(ROOT / "collections"), str(folder),
         "--compiling" if compiling else "--no-compiling", json.dumps(templates)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(done.stdout)


def test_a_template_compiled_by_one_process_is_rendered_by_the_next_from_its_kept_code(tmp_path):
    first = render(tmp_path, TEMPLATES)
    assert all(status == "ok" for status, _ in first), first
    # One file per distinct program.
    assert len(list(tmp_path.iterdir())) == len(TEMPLATES)
    # A later process renders each of them with Jinja unable to compile, and the same.
    assert render(tmp_path, TEMPLATES, compiling=False) == first
    # The test can fail: a text not kept is compiled, which that process cannot do.
    unseen = render(tmp_path, [["{{ name ~ '!' }}", True]], compiling=False)
    assert unseen[0][0] == "error" and "compiled again" in unseen[0][1]


def test_a_run_renders_what_it_rendered_without_kept_code(tmp_path):
    # Escaping, its absence and a header's delimiters each give their own result.
    assert render(tmp_path, TEMPLATES) == render("", TEMPLATES)
    first = render(tmp_path, TEMPLATES)
    assert first[1] != first[2]
    assert first[4] == ["ok", "backend{{ name }}"]


STARTED = """
import json, os, sys
from ansible import constants as C
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader([sys.argv[1]])
from ansible._internal._templating._jinja_bits import AnsibleEnvironment
from ansible.template import Templar, trust_as_template
from ansible_collections.backend_db.postgresql.plugins.callback import preload
preload.CallbackModule().v2_playbook_on_start(None)
Templar(variables={"name": "backend"}).template(trust_as_template("{{ name }}"))
folder = AnsibleEnvironment.compile.keeps_code_in
print(json.dumps({"folder": folder, "tmp": C.DEFAULT_LOCAL_TMP, "kept": os.listdir(folder)}))
"""


def test_the_preload_callback_keeps_the_code_in_the_runs_own_temporary_directory(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", STARTED, str(ROOT / "collections")],
        capture_output=True, text=True, check=True, timeout=60,
        env={**os.environ, "ANSIBLE_LOCAL_TEMP": str(tmp_path)},
    )  # fmt: skip
    found = json.loads(done.stdout)
    # Under the run's directory (which Ansible removes when the run ends), and used.
    assert found["folder"].startswith(found["tmp"] + "/")
    assert found["tmp"].startswith(str(tmp_path))
    assert len(found["kept"]) == 1
    # Nothing is left once the run has ended.
    assert list(tmp_path.iterdir()) == []
