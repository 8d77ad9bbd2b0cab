"""Map the repository's layout onto one installed package: ``infra/`` → ``meshspec.infra``, ``stacks/`` →
``meshspec.stacks``, ``constructs_lib/`` → ``meshspec.constructs_lib``, ``backends/`` → ``meshspec.backends``,
``docs/`` → ``meshspec.docs`` (read by ``meshspec help TOPIC``); everything else is in pyproject.toml.

setuptools' ``packages.find`` cannot rename a folder, so the package list is computed here. The build's
scratch folder goes to a temporary directory, so ``pip install .`` leaves no ``build/`` in the checkout."""
import atexit
import shutil
import tempfile

from setuptools import find_packages, setup

LAYERS = ("infra", "stacks", "constructs_lib", "backends")
# Folders of data files only (no __init__.py), shipped as packages of their own so setuptools knows them (it
# warns about data in a folder that is not a listed package); their files are in pyproject.toml's package-data.
DATA_FOLDERS = ("infra.init.template", "infra.graph.vendor")

packages = ["meshspec", "meshspec.docs"]
package_dir = {"meshspec": "meshspec", "meshspec.docs": "docs"}
for layer in LAYERS:
    package_dir[f"meshspec.{layer}"] = layer
    packages += [f"meshspec.{layer}"] + [f"meshspec.{layer}.{p}" for p in find_packages(layer)]
packages += [f"meshspec.{folder}" for folder in DATA_FOLDERS]

build_base = tempfile.mkdtemp(prefix="meshspec-build-")
atexit.register(shutil.rmtree, build_base, ignore_errors=True)

setup(packages=packages, package_dir=package_dir, options={"build": {"build_base": build_base}})
