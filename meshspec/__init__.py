"""meshspec: one declarative YAML spec for many microservices (AWS CDK, Google App Engine).

The repository keeps its promised layout (``infra/``, ``stacks/``, ``constructs_lib/`` at its root); the
package installs them under this one name (``meshspec.infra``, ``meshspec.stacks``,
``meshspec.constructs_lib``: see setup.py), so a user's own ``infra/`` or ``stacks/`` folder never shadows
meshspec's, nor meshspec's theirs.

Importing meshspec points jsii (aws-cdk-lib) at meshspec's own Node.js unless ``JSII_NODE`` is set: a user's CDK
app that imports meshspec before aws_cdk runs on Node 24 whatever ``node`` is first on PATH.
"""
from meshspec.infra.node import use_project_node as _use_project_node

_use_project_node()
