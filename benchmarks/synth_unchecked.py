"""`meshspec synth` for a spec App Mesh's quota refuses: for benchmarks only, never for a deployment.

Usage: python benchmarks/synth_unchecked.py SPEC OUT [--validation]
The same steps as infra/cli/commands/synth.py (imports, load, build, synthesize), with the App Mesh quota errors
(``quota-appmesh``: 200 virtual nodes per mesh) waived, so the synth path can be timed at 500 services. Any
other error still stops it, CloudFormation's quotas included.
"""
from __future__ import annotations

import sys

from meshspec.infra.node import use_project_node

use_project_node()  # jsii on the project's Node, before aws-cdk-lib is imported
from meshspec.infra.startup import frozen_imports

with frozen_imports():  # as the CLI imports them (infra/startup.py)
    from meshspec.infra.spec import load_spec
    from meshspec.stacks.app import build, new_app, skip_jsii_type_checks, synthesize

if __name__ == "__main__":
    skip_jsii_type_checks()
    result = load_spec(sys.argv[1])
    blocking = [e for e in result.errors if e.code != "quota-appmesh"]
    if result.spec is None or blocking:
        sys.exit("\n".join(e.render() for e in blocking) or "the spec did not load")
    synthesize(build(result.spec, new_app(sys.argv[2], validation="--validation" in sys.argv[3:])))
