"""cdk-nag acknowledgements and checkov skips, each with its reason, next to the construct that needs it.

cdk-nag 3 uses CDK's own ``Validations.of(construct).acknowledge``; each finding is acknowledged by its full id
(``AwsSolutions-IAM5[Resource::*]``), so nothing broader than the finding is silenced.
"""
from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct


def suppress(construct: IConstruct, rule: str, reason: str, *, applies_to: list[str] | None = None) -> None:
    ids = [f"{rule}[{a}]" for a in applies_to] if applies_to else [rule]
    # one call for all findings: every call from Python into CDK is a round trip to its Node process
    Validations.of(construct).acknowledge(*(Acknowledgment(id=finding, reason=reason) for finding in ids))


XRAY_REASON = ("X-Ray has no resource-level permissions: PutTraceSegments, PutTelemetryRecords and the sampling "
               "reads only take Resource '*' (docs.aws.amazon.com/xray/latest/devguide/security_iam_service-with-iam.html)")


def skip_checkov(resource: CfnResource, check: str, reason: str) -> None:
    """A checkov finding acknowledged with its reason in the resource's metadata (checkov reads
    ``Metadata.checkov.skip``, a list of ``{id, comment}``), as cdk-nag's acknowledgements sit beside the
    construct that needs them. Only the one check on the one resource is skipped."""
    current = resource.get_metadata("checkov") or {}
    skips = [s for s in current.get("skip", []) if s.get("id") != check] + [{"id": check, "comment": reason}]
    resource.add_metadata("checkov", {**current, "skip": skips})


def check_aws_solutions(app) -> None:
    """Run cdk-nag's AwsSolutions pack at synth (cdk-nag 3 is a validation plugin, FACTS.md): a finding that is
    not acknowledged fails ``app.synth()`` with ValidationFailed, and :func:`findings` reads them."""
    from cdk_nag import AwsSolutionsChecks

    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


def findings(outdir: str) -> list[dict]:
    """The unacknowledged findings of a failed synth: rule, construct paths, message (validation-report.json)."""
    import json
    from pathlib import Path

    report = Path(outdir) / "validation-report.json"
    if not report.is_file():
        return []
    data = json.loads(report.read_text(encoding="utf-8"))
    return [{"rule": v["ruleName"], "paths": [c["constructPath"] for c in v.get("violatingConstructs", [])],
             "message": v.get("description", "")}
            for p in data.get("pluginReports", []) for v in p.get("violations", [])]
