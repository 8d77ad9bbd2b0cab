"""Specs with an ``aws.pipeline`` part, and reading a pipeline stack's template back as waves."""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from tests.cdk_support import big_spec_text

CONNECTION = "arn:aws:codeconnections:eu-west-1:111122223333:connection/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"


def pipeline_spec_text(n: int, *, pipeline: str = "", backend: str | None = None, versions: int = 2,
                       queries: bool = False) -> str:
    """``big_spec_text(n)`` with an aws.pipeline part (``pipeline``: more keys, indented by 4) and a backend."""
    block = (f"  pipeline:\n    repository: acme/infrastructure\n    connectionArn: {CONNECTION}\n{pipeline}"
             + (f"  mesh:\n    backend: {backend}\n" if backend else ""))
    text = big_spec_text(n, versions=versions).replace("  clusters:\n", block + "  clusters:\n", 1)
    if queries:
        text += ("queries:\n  custom:\n    - name: first-two\n      query: fields @message\n"
                 "      services: [svc-000, svc-001]\n")
    return text


def synth_pipeline(spec, outdir: str | Path) -> dict:
    """Only the pipeline stack (it reads the spec, not the other stacks), synthesized; its template."""
    from meshspec.infra import naming
    from meshspec.stacks.app import new_app, pipeline_stack

    app = new_app(str(outdir), validation=False)
    pipeline_stack(app, spec)
    app.synth()
    return json.loads((Path(outdir) / f"{naming.stack_pipeline(spec.project)}.template.json").read_text())


def pipeline_resource(template: dict) -> dict:
    (pipeline,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    return pipeline


def buildspec(template: dict, action: dict) -> dict:
    """The buildspec of the CodeBuild project a pipeline action starts."""
    project = template["Resources"][action["Configuration"]["ProjectName"]["Ref"]]
    return json.loads(project["Properties"]["Source"]["BuildSpec"])


DEPLOY = re.compile(r"\bdeploy --app (\S+) --exclusively --require-approval never --concurrency (\d+) (.+)$")


def deployed(template: dict) -> list[tuple[str, list[tuple[str, int, list[str]]]]]:
    """Per stage after UpdatePipeline: (stage, [(action, concurrency, stacks)]) from the deploy commands."""
    out = []
    for stage in pipeline_resource(template)["Properties"]["Stages"]:
        actions = []
        for action in stage["Actions"]:
            if action["ActionTypeId"]["Provider"] != "CodeBuild":
                continue
            for command in buildspec(template, action)["phases"]["build"]["commands"]:
                m = DEPLOY.search(command)
                if m:
                    actions.append((action["Name"], int(m.group(2)), shlex.split(m.group(3))))
        if actions:
            out.append((stage["Name"], actions))
    return out
