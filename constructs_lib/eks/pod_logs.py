"""EKS pods' stdout into their service's log group, as awslogs does it on ECS: a Fluent Bit DaemonSet per cluster.

A pod opts in with the annotation ``meshspec.io/log-group: /meshspec/{project}/{service}`` (set by
:class:`~meshspec.constructs_lib.eks.workload.KubernetesWorkload` from its ``log_group_name``). Fluent Bit tails every
container's log file (CRI format), adds the pod's metadata, keeps only pods whose annotation lies under
``log_group_prefix``, and sends each line with ``log_key log``: the event is the raw line the container wrote,
so the metric filters and Logs Insights queries written for ECS read EKS lines unchanged. Streams are named
``{version}/{container}/{pod}`` as ECS's are ``{version}/{container}/{task}``.

Why a DaemonSet of its own rather than the CloudWatch Observability add-on's Fluent Bit: that one writes to
Container Insights' ``/aws/containerinsights/{cluster}/application`` and its only documented knob for a custom
output is replacing its whole ``application-log.conf``; a separate router works with Container Insights off, has
its own role limited to the project's log groups, and leaves the add-on's logs as they are (both ship a meshspec
pod's lines: Container Insights' copy stays where Container Insights users expect it).

Fluent Bit's ``cloudwatch_logs`` output (``log_group_template``, ``log_stream_template``, ``log_key``):
docs.fluentbit.io/manual/pipeline/outputs/cloudwatch. EKS Pod Identity credentials: aws-for-fluent-bit 2.32.5
and later (github.com/aws/aws-for-fluent-bit/pull/888).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_cdk import RemovalPolicy, Stack, Token
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from ..errors import PropsError
from ..logs import acknowledge_default_encryption
from ..nag import suppress
from .cluster import EksCluster, pod_identity_principal

if TYPE_CHECKING:
    from aws_cdk import aws_kms as kms

LOG_GROUP_ANNOTATION = "meshspec.io/log-group"
VERSION_LABEL = "meshspec.io/version"
# 2.32.5: the first release whose Fluent Bit reads EKS Pod Identity credentials (aws-for-fluent-bit PR 888)
FLUENT_BIT_IMAGE = "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.5"
ROUTER_NAME = "meshspec-fluent-bit"
# What cloudwatch_logs calls with auto_create_group off (the service log groups exist: CloudFormation made them).
LOG_WRITE_ACTIONS = ("logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents")


@dataclass(frozen=True)
class PodLogRouterProps:
    """- ``log_group_prefix``: required, e.g. ``/meshspec/shop/``: the log groups the router may write to (its
      role allows nothing else); a pod whose annotation names a group outside it is not shipped.
    - ``name``: required, unique per cluster in the account and region: names the fallback log group
      ``{log_group_prefix}_unrouted/{name}`` (created here, one week's retention) that Fluent Bit writes to when
      a line's template cannot be read. ``_`` keeps it apart from service groups (DNS labels have none).
    - ``namespace``: Default: ``meshspec-logging``.
    - ``image``: Default: aws-for-fluent-bit 2.32.5 (the first with EKS Pod Identity credentials).
    - ``encryption_key``: a KMS key for the fallback log group. Default: CloudWatch Logs' own encryption.
    """

    log_group_prefix: str
    name: str
    namespace: str = "meshspec-logging"
    image: str = FLUENT_BIT_IMAGE
    encryption_key: "kms.IKey | None" = None

    def __post_init__(self) -> None:
        if not (self.log_group_prefix.startswith("/") and self.log_group_prefix.endswith("/")):
            raise PropsError(f"log_group_prefix is {self.log_group_prefix!r}: it starts and ends with '/', "
                             "e.g. '/meshspec/shop/'")
        if any(c in self.log_group_prefix for c in "*?'\" "):
            raise PropsError(f"log_group_prefix is {self.log_group_prefix!r}: no wildcard, quote or space")

    @property
    def fallback_log_group(self) -> str:
        return f"{self.log_group_prefix}_unrouted/{self.name}"


def fluent_bit_config(props: PodLogRouterProps, region: str) -> str:
    """fluent-bit.conf (classic format): tail CRI logs, Kubernetes metadata, keep annotated pods, one output."""
    a = f"$kubernetes['annotations']['{LOG_GROUP_ANNOTATION}']"
    stream = (f"$kubernetes['labels']['{VERSION_LABEL}']/$kubernetes['container_name']/"
              "$kubernetes['pod_name']")
    prefix_regex = "^" + props.log_group_prefix.replace(".", "\\.")
    sections = [
        ("SERVICE", [("Flush", "5"), ("Log_Level", "warn"), ("Daemon", "off"),
                     ("storage.path", "/var/fluent-bit/state/flb-storage/")]),
        ("INPUT", [("Name", "tail"), ("Tag", "kube.*"), ("Path", "/var/log/containers/*.log"),
                   ("Exclude_Path", f"/var/log/containers/*_{props.namespace}_*.log"),
                   ("multiline.parser", "cri"), ("DB", "/var/fluent-bit/state/meshspec-tail.db"),
                   ("Mem_Buf_Limit", "50MB"), ("Skip_Long_Lines", "On"), ("Refresh_Interval", "10"),
                   ("storage.type", "filesystem")]),
        ("FILTER", [("Name", "kubernetes"), ("Match", "kube.*"), ("Kube_Tag_Prefix", "kube.var.log.containers."),
                    ("Merge_Log", "Off"), ("Keep_Log", "On"), ("Annotations", "On"), ("Labels", "On"),
                    ("Buffer_Size", "0")]),
        ("FILTER", [("Name", "grep"), ("Match", "kube.*"), ("Regex", f"{a} {prefix_regex}")]),
        ("OUTPUT", [("Name", "cloudwatch_logs"), ("Match", "kube.*"), ("region", region),
                    ("log_group_name", props.fallback_log_group), ("log_group_template", a),
                    ("log_stream_prefix", "unrouted-"), ("log_stream_template", stream),
                    ("log_key", "log"), ("auto_create_group", "Off")]),
    ]
    width = max(len(k) for _, kvs in sections for k, _ in kvs)
    return "\n".join(f"[{name}]\n" + "\n".join(f"    {k.ljust(width)} {v}" for k, v in kvs) + "\n"
                     for name, kvs in sections)


def render_router_manifests(props: PodLogRouterProps, region: str) -> list[dict[str, Any]]:
    """Namespace, ServiceAccount, RBAC to read pod metadata, the ConfigMap and the DaemonSet (pure)."""
    ns, name = props.namespace, ROUTER_NAME
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "meshspec"}
    meta = {"name": name, "namespace": ns, "labels": labels}
    pod = {
        "serviceAccountName": name,
        "tolerations": [{"operator": "Exists"}],  # every node: system pools are tainted
        "containers": [{
            "name": "fluent-bit", "image": props.image,
            "env": [{"name": "AWS_REGION", "value": region}],
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
            "volumeMounts": [{"name": "config", "mountPath": "/fluent-bit/etc/"},
                             {"name": "varlog", "mountPath": "/var/log", "readOnly": True},
                             {"name": "state", "mountPath": "/var/fluent-bit/state"}]}],
        "volumes": [{"name": "config", "configMap": {"name": name}},
                    {"name": "varlog", "hostPath": {"path": "/var/log"}},
                    {"name": "state", "hostPath": {"path": "/var/fluent-bit/state", "type": "DirectoryOrCreate"}}],
    }
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": name, "labels": labels},
         "rules": [{"apiGroups": [""], "resources": ["namespaces", "pods"], "verbs": ["get", "list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": name, "labels": labels},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}]},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
         "data": {"fluent-bit.conf": fluent_bit_config(props, region)}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta,
         "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                  "template": {"metadata": {"labels": labels}, "spec": pod}}},
    ]


class PodLogRouter(Construct):
    """The router's IAM role (writes to ``log_group_prefix`` groups only), Pod Identity association and fallback
    log group (CloudFormation), and its manifests (kubectl or files, as the cluster's workloads)."""

    def __init__(self, scope: Construct, id: str, *, cluster: EksCluster, props: PodLogRouterProps) -> None:
        super().__init__(scope, id)
        self.cluster_construct = cluster
        self.props = props
        self.manifest_name = ROUTER_NAME
        stack = Stack.of(self)
        self.fallback = logs.LogGroup(self, "Unrouted", log_group_name=props.fallback_log_group,
                                      retention=logs.RetentionDays.ONE_WEEK, removal_policy=RemovalPolicy.DESTROY,
                                      encryption_key=props.encryption_key)
        if props.encryption_key is None:
            acknowledge_default_encryption(self.fallback)
        self.role = iam.Role(self, "Role", assumed_by=pod_identity_principal(),
                             description=f"Fluent Bit: pods' stdout into {props.log_group_prefix}* log groups")
        self.role.assume_role_policy.add_statements(iam.PolicyStatement(
            actions=["sts:TagSession"], principals=[iam.ServicePrincipal("pods.eks.amazonaws.com")]))
        groups = f"log-group:{props.log_group_prefix}*"
        self.role.add_to_principal_policy(iam.PolicyStatement(
            actions=list(LOG_WRITE_ACTIONS),
            resources=[f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:{groups}"]))
        region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
        account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
        suppress(self.role, "AwsSolutions-IAM5",
                 f"the project's log groups only ({props.log_group_prefix}*): services come and go, and each pod "
                 "names its own group by annotation",
                 applies_to=[f"Resource::arn:<AWS::Partition>:logs:{region}:{account}:{groups}"])
        eks.CfnPodIdentityAssociation(self, "PodIdentity", cluster_name=cluster.cluster.cluster_name,
                                      namespace=props.namespace, service_account=ROUTER_NAME,
                                      role_arn=self.role.role_arn)
        self.manifests = render_router_manifests(props, stack.region)
        if cluster.applies_manifests:
            eks.KubernetesManifest(self, "Manifests", cluster=cluster.cluster, manifest=self.manifests)
