"""Map the repository's layout onto one installed package: ``infra/`` → ``meshspec.infra``, ``stacks/`` →
``meshspec.stacks``, ``constructs_lib/`` → ``meshspec.constructs_lib``, ``backends/`` → ``meshspec.backends``
(everything else is in pyproject.toml).

setuptools' ``packages.find`` cannot rename a folder, so the package list is computed here."""
from setuptools import find_packages, setup

LAYERS = ("infra", "stacks", "constructs_lib", "backends")

packages = ["meshspec"]
package_dir = {"meshspec": "meshspec"}
for layer in LAYERS:
    package_dir[f"meshspec.{layer}"] = layer
    packages += [f"meshspec.{layer}"] + [f"meshspec.{layer}.{p}" for p in find_packages(layer)]

setup(packages=packages, package_dir=package_dir)
