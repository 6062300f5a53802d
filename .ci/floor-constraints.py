"""Print pip constraints that pin every runtime dependency of pyproject.toml to the lowest version its pin allows."""

import re
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
for requirement in project["dependencies"]:
    if match := re.match(r"^([A-Za-z0-9_.\-\[\]]+?)(\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)", requirement):
        print(f"{match.group(1)}=={match.group(3)}")
