"""The CDK app of a meshspec repository: cdk.json's ``"app": "meshspec-cdk-app"``, an installed command.

Installed rather than a script in the repository, so it imports only the installed ``meshspec`` package and never
the folder the CDK CLI runs it in (a user's own ``infra/`` or ``stacks/`` cannot shadow it). The spec is the
context value ``spec`` (cdk.json, or ``cdk synth -c spec=PATH``). Default: ``meshspec.yaml``, the file
``meshspec init`` writes. The templates are those ``meshspec synth`` writes, byte for byte.
"""
from __future__ import annotations

import sys

from meshspec.infra.startup import frozen_imports

DEFAULT_SPEC = "meshspec.yaml"


def main() -> int:
    # meshspec.stacks points jsii at meshspec's own Node before aws_cdk loads; as `meshspec synth` does, the
    # collector need not walk aws-cdk-lib's objects
    with frozen_imports():
        from meshspec.infra.errors import UserError
        from meshspec.infra.spec import SpecInvalid, load_spec_or_raise
        from meshspec.stacks.app import build, new_app, synthesize

    app = new_app()
    spec_path = app.node.try_get_context("spec") or DEFAULT_SPEC
    try:
        spec = load_spec_or_raise(spec_path)
        synthesize(build(spec, app))
    except SpecInvalid as exc:
        for e in exc.errors:
            print(e.render(), file=sys.stderr)
        print(f"{len(exc.errors)} error(s) in {spec_path}", file=sys.stderr)
        return 1
    except UserError as exc:
        print(f"error: {exc.message}" + (f"\nhint: {exc.hint}" if exc.hint else ""), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
