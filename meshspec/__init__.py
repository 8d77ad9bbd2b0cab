"""meshspec: one declarative YAML spec for many microservices (AWS CDK, Google App Engine).

The repository keeps its promised layout (``infra/``, ``stacks/``, ``constructs_lib/`` at its root); the
package installs them under this one name (``meshspec.infra``, ``meshspec.stacks``,
``meshspec.constructs_lib``: see setup.py), so a user's own ``infra/`` or ``stacks/`` folder never shadows
meshspec's, nor meshspec's theirs.
"""
