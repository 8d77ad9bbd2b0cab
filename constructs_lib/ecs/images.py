"""Container images for ECS task definitions: a private ECR image brings its own least-privilege pull grant."""
from __future__ import annotations

from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from constructs import Construct

from ..ecr import PULL_ACTIONS, TOKEN_ACTION, EcrImage, parse_ecr_image
from ..nag import suppress

TOKEN_REASON = ("ecr:GetAuthorizationToken has no resource-level permissions (docs.aws.amazon.com/AmazonECR/latest/"
                "userguide/security_iam_service-with-iam.html); the pull itself is granted on the image's repository only")


class PrivateEcrImage(ecs.ContainerImage):
    """An image in a private ECR repository, written into the task definition exactly as given (a tag or a
    digest, any ECR endpoint form), whose binding grants the task's execution role the pull of that repository
    and ``ecr:GetAuthorizationToken``: what ``ContainerImage.from_ecr_repository`` grants, without rewriting the
    image's host into a token and without aws-cdk-lib's ``ecrImageRequiresPolicy`` warning, which no longer
    applies."""

    def __init__(self, image: str, ref: EcrImage) -> None:
        super().__init__()
        self.image = image
        self.ref = ref

    def bind(self, scope: Construct, container_definition: ecs.ContainerDefinition) -> ecs.ContainerImageConfig:
        role = container_definition.task_definition.obtain_execution_role()
        role.add_to_principal_policy(iam.PolicyStatement(actions=list(PULL_ACTIONS),
                                                         resources=[self.ref.repository_arn]))
        role.add_to_principal_policy(iam.PolicyStatement(actions=[TOKEN_ACTION], resources=["*"]))
        suppress(role, "AwsSolutions-IAM5", TOKEN_REASON, applies_to=["Resource::*"])
        return ecs.ContainerImageConfig(image_name=self.image)


def container_image(image: str) -> ecs.ContainerImage:
    """The image as ECS pulls it: from a private ECR repository with its pull grant, from any other registry as
    is."""
    ref = parse_ecr_image(image)
    return ecs.ContainerImage.from_registry(image) if ref is None else PrivateEcrImage(image, ref)
