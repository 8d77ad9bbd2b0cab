"""Stacks that turn a loaded spec into constructs (composition only)."""
from meshspec.infra.node import use_project_node

use_project_node()  # before aws_cdk starts its Node process
