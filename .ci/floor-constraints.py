"""Print pip constraints that pin every runtime dependency of pyproject.toml, the extras' included (contracts, fuzz;
not dev), to the lowest version its pin allows."""

import re
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
extras = project.get("optional-dependencies", {})
runtime = [*project["dependencies"], *(r for name, rs in extras.items() if name != "dev" for r in rs)]
for requirement in runtime:
    # "pytest-topology[contracts,fuzz]" (the `all` extra) names no version: it is not matched
    if match := re.match(r"^([A-Za-z0-9_.\-\[\]]+?)(\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)", requirement):
        print(f"{match.group(1)}=={match.group(3)}")
