"""Secret references as ECS and EKS read them: a Secrets Manager secret ARN, optionally with one JSON key
(``ARN:key``, ECS's ``valueFrom`` form with the version stage and id left out, so ``ARN:key::`` too), or an SSM
parameter ARN. Pure: one parser for both platforms, so a reference means the same thing on each.

ECS's form: docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html. A key is a
plain identifier so that it is also a JMESPath expression as is (ASCP's ``jmesPath``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

SECRETS_MANAGER = re.compile(
    r"^(?P<arn>arn:aws[a-z-]*:secretsmanager:(?P<region>[a-z0-9-]+):[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+)"
    r"(?::(?P<key>[A-Za-z_][A-Za-z0-9_]{0,127})(?:::)?)?$")
SSM_PARAMETER = re.compile(
    r"^(?P<arn>arn:aws[a-z-]*:ssm:(?P<region>[a-z0-9-]+):[0-9]{12}:parameter/[A-Za-z0-9/_.-]+)$")


# Secrets Manager ends a secret's complete ARN with a hyphen and six random characters; a partial ARN (without
# them) names the secret too, and IAM matches it only with a wildcard for those characters.
COMPLETE_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")


@dataclass(frozen=True)
class SecretRef:
    """``arn``: the secret's or parameter's ARN (without the key); ``kind``: ``secretsmanager`` or
    ``ssmparameter`` (ASCP's object types); ``json_key``: the selected key, or None for the whole value."""

    arn: str
    kind: str
    region: str
    json_key: str | None = None

    @property
    def complete(self) -> bool:
        """A parameter's ARN always is; a secret's when it ends with Secrets Manager's six-character suffix."""
        return self.kind != "secretsmanager" or bool(COMPLETE_SUFFIX.search(self.arn))

    @property
    def policy_arn(self) -> str:
        """The ARN an IAM statement grants: a partial secret ARN with ``-??????`` for the suffix it lacks."""
        return self.arn if self.complete else f"{self.arn}-??????"


def parse_ref(ref: str) -> SecretRef | None:
    """The reference, or None when it is no Secrets Manager or SSM parameter ARN (then it may be a value)."""
    if m := SECRETS_MANAGER.match(ref):
        return SecretRef(m["arn"], "secretsmanager", m["region"], m["key"])
    if m := SSM_PARAMETER.match(ref):
        return SecretRef(m["arn"], "ssmparameter", m["region"])
    return None
