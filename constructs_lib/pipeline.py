"""A self-mutating CodePipeline (CDK Pipelines) whose waves are CodeBuild actions deploying a prebuilt assembly.

Why CodeBuild actions and not CDK Pipelines' usual stages of stacks (``Stage`` + one CloudFormation action per
stack): CodePipeline allows at most 500 actions per pipeline and 50 per stage, both fixed, so one action per
stack stops short of 500 stacks; and a ``Stage`` moves its stacks under a new construct path, which changes their
templates (``aws:cdk:path`` metadata) and their default stack names. Here the synth step writes the assembly
once, exactly as a workstation would, and each deploy action runs the CDK CLI on a batch of its stacks
(publishing their assets, creating change sets, skipping the unchanged).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_codepipeline as codepipeline, aws_iam as iam, pipelines
from constructs import Construct

from .nag import logical_id, rendered_arn, skip_checkov, suppress

#: The roles ``cdk bootstrap`` creates, found by their tag (as CDK Pipelines' own self-mutation finds them).
BOOTSTRAP_ROLES = ["deploy", "file-publishing", "image-publishing", "lookup"]
APPROVAL_WAVE = "Approve"


@dataclass(frozen=True)
class DeployStep:
    """One deploy action: its id (the action's name) and the shell commands it runs."""

    id: str
    commands: Sequence[str]


@dataclass(frozen=True)
class DeployWave:
    """Deploy actions that run in parallel, after every earlier wave (one CodePipeline stage)."""

    name: str
    steps: Sequence[DeployStep]


@dataclass(frozen=True)
class WavePipelineProps:
    pipeline_name: str  # also the start of the deploy projects' names: letters, digits, - and _
    repository: str  # owner/name
    connection_arn: str  # a CodeConnections connection to the repository's host
    synth_commands: Sequence[str]  # they write the cloud assembly into ``assembly_dir``
    waves: Sequence[DeployWave]
    branch: str = "main"  # Default: main
    synth_install: Sequence[str] = ()  # Default: nothing installed before the synth commands
    deploy_install: Sequence[str] = ()  # Default: nothing installed before a deploy action's commands
    env: Mapping[str, str] = field(default_factory=dict)  # Default: no variables beyond CodeBuild's own
    synth_statements: Sequence[iam.PolicyStatement] = ()  # Default: only what CDK Pipelines grants the synth
    deploy_statements: Sequence[iam.PolicyStatement] = ()  # Default: only assuming the CDK bootstrap roles
    checkout: bool = False  # Default: false: deploy actions see only the assembly (as their working directory);
    # true: the source is a full clone (its git history in the synth) and deploy actions run in a checkout of
    # the repository with the assembly in ``assembly_dir``
    approval: bool = False  # Default: no manual approval
    assembly_dir: str = "cdk.out"  # Default: cdk.out


class WavePipeline(Construct):
    """Source (a CodeConnections repository), a synth step, UpdatePipeline (self-mutation), then the waves.

    Every deploy action shares one IAM role, which may assume only the CDK bootstrap roles of this account
    (tagged ``aws-cdk:bootstrap-role``) plus ``deploy_statements``: CloudFormation acts with the bootstrap's
    execution role, as under ``cdk deploy``."""

    def __init__(self, scope: Construct, id: str, props: WavePipelineProps) -> None:
        super().__init__(scope, id)
        self.source = pipelines.CodePipelineSource.connection(
            props.repository, props.branch, connection_arn=props.connection_arn,
            code_build_clone_output=props.checkout or None)
        self.synth = pipelines.CodeBuildStep(
            "Synth", input=self.source, install_commands=list(props.synth_install),
            commands=list(props.synth_commands), env=dict(props.env), primary_output_directory=props.assembly_dir,
            role_policy_statements=list(props.synth_statements) or None)
        self.pipeline_role = iam.Role(self, "PipelineRole", assumed_by=iam.ServicePrincipal("codepipeline.amazonaws.com"))
        self.pipeline = pipelines.CodePipeline(
            self, "Pipeline", synth=self.synth, pipeline_name=props.pipeline_name, role=self.pipeline_role,
            pipeline_type=codepipeline.PipelineType.V2, cross_account_keys=False)
        stack = cdk.Stack.of(self)
        self.projects = props.pipeline_name  # the deploy projects' names start with it (CodeBuild's characters)
        # Two roles for all deploy actions, granted once for all below, and handed out as they are: each action
        # and project would otherwise add its own statements (its logs, its project), and the policies would outgrow
        # IAM's sizes and its 10 managed policies per role at a few hundred actions.
        self.deploy_role = iam.Role(
            self, "DeployRole", assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
            description=f"{props.pipeline_name}: the deploy actions (cdk deploy through the bootstrap roles)")
        self.action_role = iam.Role(self, "DeployActionRole", assumed_by=self.pipeline_role,
                                    description=f"{props.pipeline_name}: starts the deploy actions' builds")
        if props.approval:
            self.pipeline.add_wave(APPROVAL_WAVE, post=[pipelines.ManualApprovalStep("Approve")])
        roles = (self.deploy_role.without_policy_updates(), self.action_role.without_policy_updates())
        for wave in props.waves:
            self.pipeline.add_wave(wave.name, post=[self._deploy_step(props, wave, s, *roles) for s in wave.steps])
        self.pipeline.build_pipeline()
        # CDK Pipelines writes a Graphviz picture of its graph into the assembly's folder as it builds; no artifact
        # names it, so an assembly put together from parts (meshspec's parallel synth) would lack it: removed, so
        # the assembly is the same however it is synthesized
        dot = Path(cdk.Stage.of(self).outdir) / f"{cdk.Names.unique_id(self.pipeline)}.dot"
        dot.unlink(missing_ok=True)
        projects = f"arn:{stack.partition}:codebuild:{stack.region}:{stack.account}:project/{self.projects}-*"
        self.action_role.add_to_policy(iam.PolicyStatement(
            actions=["codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild"], resources=[projects]))
        logs = f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:/aws/codebuild/{self.projects}-*"
        for statement in [
            iam.PolicyStatement(actions=["sts:AssumeRole"],
                                resources=[f"arn:{stack.partition}:iam::{stack.account}:role/*"],
                                conditions={"ForAnyValue:StringEquals": {
                                    "iam:ResourceTag/aws-cdk:bootstrap-role": BOOTSTRAP_ROLES}}),
            iam.PolicyStatement(actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                                resources=[logs, f"{logs}:*"]),
            *([iam.PolicyStatement(actions=["codestar-connections:UseConnection", "codeconnections:UseConnection"],
                                   resources=[props.connection_arn])] if props.checkout else []),
            *props.deploy_statements]:
            self.deploy_role.add_to_policy(statement)
        self.pipeline.pipeline.artifact_bucket.grant_read(self.deploy_role)
        self._acknowledge()

    def _acknowledge(self) -> None:
        """cdk-nag's findings on what CDK Pipelines and this construct create, each with its reason."""
        bucket = logical_id(self.pipeline.pipeline.artifact_bucket)
        builds = [logical_id(self.pipeline.synth_project), logical_id(self.pipeline.self_mutation_project)]
        stack = cdk.Stack.of(self)
        account = "<AWS::AccountId>" if cdk.Token.is_unresolved(stack.account) else stack.account
        suppress(self, "AwsSolutions-IAM5", "CDK Pipelines' grants on the pipeline's own artifact bucket: S3's "
                 "read and write action groups, on this pipeline's artifacts only",
                 applies_to=[*(f"Action::s3:{a}" for a in ("Abort*", "DeleteObject*", "GetBucket*", "GetObject*",
                                                          "List*")), f"Resource::<{bucket}.Arn>/*"])
        suppress(self, "AwsSolutions-IAM5", "CodeBuild's own log group and report groups of a project, named after "
                 "it (CDK Pipelines' grant to its synth and self-mutation projects)", applies_to=[
                     *(f"Resource::{rendered_arn(self, 'logs', f'log-group:/aws/codebuild/<{b}>:*')}" for b in builds),
                     *(f"Resource::{rendered_arn(self, 'codebuild', f'report-group/<{b}>-*')}" for b in builds)])
        suppress(self, "AwsSolutions-IAM5", "this pipeline's deploy projects and their log groups, by the prefix "
                 "of their names (the pipeline's name): one grant for all actions, so the policies do not grow "
                 "with them", applies_to=[
                     f"Resource::{rendered_arn(self, 'codebuild', f'project/{self.projects}-*')}",
                     f"Resource::{rendered_arn(self, 'logs', f'log-group:/aws/codebuild/{self.projects}-*')}",
                     f"Resource::{rendered_arn(self, 'logs', f'log-group:/aws/codebuild/{self.projects}-*:*')}"])
        suppress(self, "AwsSolutions-IAM5", "only the CDK bootstrap roles of this account: the statement's "
                 "condition requires their aws-cdk:bootstrap-role tag (deploy, file-publishing, image-publishing, "
                 "lookup), as CDK Pipelines' self-mutation does", applies_to=[
                     f"Resource::arn:*:iam::{account}:role/*", f"Resource::arn:<AWS::Partition>:iam::{account}:role/*"])
        suppress(self, "AwsSolutions-IAM5", "calls that take no resource-level permissions: "
                 "cloudformation:DescribeStacks and s3:ListBucket (CDK Pipelines' self-mutation, the CDK CLI's "
                 "lookups), cloudwatch:GetMetricData and ListMetrics, and a mesh's List calls (the canaries find what they move)",
                 applies_to=["Resource::*"])
        only_artifacts = ("the artifact bucket holds only this pipeline's artifacts (the source and the cloud "
                          "assembly), written and read by its own roles; CodePipeline keeps each run's history")
        suppress(self, "AwsSolutions-S1", only_artifacts)
        bucket_resource = self.pipeline.pipeline.artifact_bucket.node.default_child
        skip_checkov(bucket_resource, "CKV_AWS_18", only_artifacts)
        skip_checkov(bucket_resource, "CKV_AWS_21", "each run writes its artifacts under new names and reads only "
                     "its own: no earlier version of an object is ever read back (CDK Pipelines' artifact store)")
        suppress(self, "AwsSolutions-CB4", "CodeBuild encrypts the builds' artifacts with the AWS managed key for "
                 "Amazon S3; they hold the repository and the synthesized templates, which meshspec keeps free of "
                 "secrets (references only)")

    def _deploy_step(self, props: WavePipelineProps, wave: DeployWave, step: DeployStep,
                     role: iam.IRole, action_role: iam.IRole) -> pipelines.CodeBuildStep:
        inputs = {"input": self.source, "additional_inputs": {props.assembly_dir: self.synth}} if props.checkout \
            else {"input": self.synth}
        return pipelines.CodeBuildStep(step.id, **inputs, install_commands=list(props.deploy_install),
                                       commands=list(step.commands), env=dict(props.env), role=role,
                                       action_role=action_role, project_name=f"{self.projects}-{wave.name}-{step.id}")
