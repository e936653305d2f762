"""requirements.txt, pyproject.toml and environment.yml describe one environment."""
import re
import sys
import tomllib

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from conftest import ROOT


def _pins(path):
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        req = Requirement(line)
        spec = list(req.specifier)
        assert len(spec) == 1 and spec[0].operator == "==", f"{path.name}: {line!r} is not an exact pin"
        pins[canonicalize_name(req.name)] = Version(spec[0].version)
    return pins


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_requirements_pin_torch_to_the_cpu_wheel_and_install_the_project():
    text = (ROOT / "requirements.txt").read_text()
    assert _pins(ROOT / "requirements.txt")["torch"] == Version("2.13.0")
    assert re.search(r"^-e \.\[all\]$", text, re.M), "requirements.txt must install vdlib with its extras"


def test_every_pinned_package_satisfies_the_pyproject_ranges():
    pins = _pins(ROOT / "requirements.txt")
    project = _pyproject()
    declared = list(project["dependencies"])
    for extra, reqs in project["optional-dependencies"].items():
        declared += [r for r in reqs if not r.startswith("vdlib")]
    names = set()
    for line in declared:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        names.add(name)
        assert name in pins, f"{req.name} is a dependency in pyproject.toml but has no exact pin in requirements.txt"
        assert pins[name] in req.specifier, f"pin {name}=={pins[name]} violates pyproject range {req.specifier}"
    assert {"numpy", "torch"} <= names, "numpy and torch must be declared explicitly"


def test_environment_yml_reuses_the_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert "-r requirements.txt" in pip_section
    pins = _pins(ROOT / "requirements.txt")
    conda_python = None
    for dep in deps:
        if isinstance(dep, str):
            name, _, version = dep.partition("=")
            if canonicalize_name(name) == "python":
                conda_python = version
            elif version and canonicalize_name(name) in pins:  # a conda pin must agree with requirements.txt
                assert Version(version.lstrip("=")) == pins[canonicalize_name(name)], dep
    for extra in pip_section:
        if not extra.startswith("-"):
            req = Requirement(extra)
            assert canonicalize_name(req.name) not in pins or pins[canonicalize_name(req.name)] in req.specifier
    assert conda_python and Version(conda_python) in SpecifierSet(_pyproject()["requires-python"])


def test_this_interpreter_is_supported():
    here = Version(".".join(map(str, sys.version_info[:3])))
    assert here in SpecifierSet(_pyproject()["requires-python"])
