"""pyproject.toml, environment.yml and constraints.txt describe the same installation."""

import re
import tomllib

from packaging.requirements import Requirement

from cvlab.course import REPO


def _pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["dev"]
    return {Requirement(r).name.lower(): str(Requirement(r).specifier) for r in reqs}


def _environment_requirements() -> dict[str, str]:
    specs = {}
    for line in (REPO / "environment.yml").read_text().splitlines():
        match = re.match(r"^\s*-\s+([A-Za-z][\w.-]*)\s*([<>=!~][^#]*)?$", line)
        if match and match.group(1) not in ("python", "pip", "conda-forge"):
            specs[match.group(1).lower()] = str(Requirement(match.group(1) + (match.group(2) or "")).specifier)
    return specs


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def test_environment_yml_installs_the_pyproject_set():
    assert _environment_requirements() == _pyproject_requirements()


def test_constraints_pin_every_requirement_inside_its_range():
    pins = _constraints()
    for name, spec in _pyproject_requirements().items():
        assert name in pins, f"constraints.txt does not pin {name}"
        assert Requirement(f"{name}{spec}").specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {spec}"


def test_pinned_torchvision_accepts_the_pinned_torch():
    """torchvision's wheels load their C++ ops only with the torch they were built for (its Requires-Dist)."""
    from importlib.metadata import requires, version

    pins = _constraints()
    assert version("torch").split("+")[0] == pins["torch"]
    assert version("torchvision").split("+")[0] == pins["torchvision"]
    torch_req = next(Requirement(r) for r in requires("torchvision") if Requirement(r).name == "torch")
    assert torch_req.specifier.contains(pins["torch"]), f"torchvision {pins['torchvision']} needs {torch_req}"
