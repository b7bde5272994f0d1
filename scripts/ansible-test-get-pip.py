"""Stands in for the get-pip.py script ansible-test downloads to put pip into a new venv.

ansible-test fetches get-pip.py from a host of its own, which this project's machines do
not reach; PyPI they do. scripts/sanity.sh saves pip's wheel from PyPI and this script
into ansible-test's cache, under the name ansible-test looks for; ansible-test then runs
it as it would run get-pip.py, with get-pip's options, and pip installs itself from the
wheel beside this file.
"""

import glob
import os
import runpy
import sys

here = os.path.dirname(os.path.abspath(__file__))
(wheel,) = glob.glob(os.path.join(here, "pip-*-py3-none-any.whl"))
sys.path.insert(0, wheel)
# get-pip's own options: pip takes no such option, and ansible-test wants neither package.
options = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.argv = ["pip", "install", "--upgrade", "--force-reinstall", wheel, *options]
runpy.run_module("pip", run_name="__main__", alter_sys=True)
