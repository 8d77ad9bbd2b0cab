"""Private Amazon ECR images recognised by their registry host, so a workload can be granted exactly the
repository it pulls. Pure: no construct is created here.

The host forms are ECR's registry endpoints (docs.aws.amazon.com/AmazonECR/latest/userguide/Registries.html,
"Amazon ECR endpoints"): ``ACCOUNT.dkr.ecr.REGION.amazonaws.com`` (``.amazonaws.com.cn`` in China), its FIPS
form ``dkr.ecr-fips`` and its dual-stack form ``ACCOUNT.dkr-ecr.REGION.on.aws``. ``public.ecr.aws`` and other
registries are public and need no grant.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

ECR_IMAGE = re.compile(
    r"^(?P<account>[0-9]{12})\.(?:dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?P<cn>\.cn)?"
    r"|dkr-ecr\.(?P<ds_region>[a-z0-9-]+)\.on\.aws)"
    r"/(?P<repository>[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?$")

# What pulling an image takes (the actions of AmazonECSTaskExecutionRolePolicy's ECR part, and aws-cdk-lib's
# Repository.grantPull): the first three on the repository; the token has no resource-level permissions.
PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage")
TOKEN_ACTION = "ecr:GetAuthorizationToken"


@dataclass(frozen=True)
class EcrImage:
    account: str
    region: str
    repository: str
    partition: str

    @property
    def repository_arn(self) -> str:
        return f"arn:{self.partition}:ecr:{self.region}:{self.account}:repository/{self.repository}"


def parse_ecr_image(image: str) -> EcrImage | None:
    """The image's ECR repository, or None when the image is not in a private ECR registry."""
    m = ECR_IMAGE.match(image)
    if m is None:
        return None
    region = m["region"] or m["ds_region"]
    partition = "aws-cn" if m["cn"] else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    return EcrImage(account=m["account"], region=region, repository=m["repository"], partition=partition)


def repository_policy(principal_account: str, partition: str = "aws") -> dict:
    """The repository policy an image in another account needs, so tasks (or nodes) of ``principal_account``
    can pull it: the account's own IAM policies (the pull grant) then decide which of its roles may."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "MeshspecPull", "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{principal_account}:root"},
        "Action": list(PULL_ACTIONS)}]}
