"""A meshed service on EKS as Kubernetes manifests: a Deployment per code version (app, Envoy, the CloudWatch agent
that takes Envoy's X-Ray segments, and the registrar that registers the pod where the backend discovers it), a Service, a ServiceAccount bound to an IAM
role through EKS Pod Identity (a native CloudFormation resource), the service's secrets from their references
(:mod:`.secrets`) and its pods' logs routed to its log group (:mod:`.pod_logs`).

Without a kubectl provider on the cluster, CloudFormation cannot apply manifests: they are kept on the
construct (``manifests``) and :func:`write_manifests` writes them beside the templates for ``kubectl apply``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

from aws_cdk import Stack, Tags, Token
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct

from ..errors import PropsError, contradiction
from ..nag import XRAY_REASON, suppress
from ..mesh.base import MeshServiceBinding, PodRegistration, ProxyRequirements
from ..observability import XRAY_WRITE_ACTIONS, TelemetryProps, envoy_environment, pod_telemetry
from . import secrets as sec
from .cluster import EksCluster, pod_identity_principal
from .pod_logs import LOG_GROUP_ANNOTATION, PodLogRouter
from .registration import RegistrarPart, add_registrar, registrar_for

XRAY_SENDERS = ("cloudwatch-agent", "xray-daemon")  # the pod containers that write X-Ray segments


@dataclass(frozen=True)
class WorkloadVersion:
    name: str
    image: str


@dataclass(frozen=True)
class KubernetesWorkloadProps:
    """- ``service_name``, ``port``, ``versions``: required.
    - ``binding``: the mesh binding; with a proxy, pods get Envoy and the proxy's init container.
      Default: no mesh.
    - ``namespace``: Kubernetes namespace. Default: ``default``.
    - ``replicas``: pods per code version. Default: 2.
    - ``cpu_millicores``: Default: 256. ``memory_mib``: Default: 512.
    - ``environment``: plain variables. Default: none.
    - ``tracing``: traces from Envoy and the app (shorthand for ``telemetry.tracing``). Default: True.
    - ``telemetry``: the agent and instrumentation (:class:`~meshspec.constructs_lib.observability.TelemetryProps`):
      the cluster's Observability add-on injects ADOT into the app (annotation), a pod whose Envoy traces runs an
      agent sidecar for Envoy's X-Ray segments. Default: Application Signals, Python, environment
      ``eks:<cluster name>/<namespace>``, 5 % of traces kept.
    - ``secrets``: variable → Secrets Manager secret ARN (``ARN:key`` selects one JSON key) or SSM parameter
      ARN, all in one region; mounted by
      the cluster's Secrets Store CSI driver (ASCP, with the pod's role) and read by the app through a synced
      Kubernetes Secret; a literal is refused and never echoed. Default: none.
    - ``log_group_name``: annotates the pods (``meshspec.io/log-group``) so the cluster's
      :class:`~meshspec.constructs_lib.eks.pod_logs.PodLogRouter` ships their stdout there. Default: no annotation
      (the lines reach only Container Insights' log groups).
    - ``registrar_parts``: the discovery APIs the pods' registrar speaks (every installed mesh backend's, so the
      script is the same on every backend). Default: those of the binding's pod registrations.
    """

    service_name: str
    port: int
    versions: tuple[WorkloadVersion, ...]
    binding: MeshServiceBinding | None = None
    namespace: str = "default"
    replicas: int = 2
    cpu_millicores: int = 256
    memory_mib: int = 512
    environment: Mapping[str, str] = field(default_factory=dict)
    tracing: bool = True
    secrets: Mapping[str, str] = field(default_factory=dict)
    log_group_name: str | None = None
    registrar_parts: tuple[RegistrarPart, ...] = ()
    telemetry: TelemetryProps | None = None

    def __post_init__(self) -> None:
        sec.check_secrets(self.secrets, self.environment)
        if self.telemetry is not None and self.telemetry.tracing != self.tracing:
            raise contradiction("tracing", self.tracing, "telemetry.tracing", self.telemetry.tracing,
                                "give tracing once, in telemetry")
        if not self.versions:
            raise PropsError(f"versions of {self.service_name!r} is empty: give at least one code version")
        if self.replicas < 0:
            raise PropsError(f"replicas is {self.replicas}: at least 0")


def _env(values: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": str(v)} for k, v in sorted(values.items())]


def render_manifests(props: KubernetesWorkloadProps, proxies: Mapping[str, ProxyRequirements | None],
                     registrations: Mapping[str, PodRegistration | None] | None = None, *,
                     cluster_name: str = "cluster", region: str = "") -> list[dict[str, Any]]:
    """The manifests, as plain dicts (pure: no construct, unit-tested without a stack).

    ``registrations``: per version, how its pods register in the backend (the registrar sidecar). Default: none.
    ``cluster_name`` and ``region``: name the default telemetry's environment and the agent sidecar's region."""
    p = props
    telemetry = telemetry_of(p, cluster_name)
    labels = {"app.kubernetes.io/name": p.service_name, "app.kubernetes.io/managed-by": "meshspec"}
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": p.service_name, "namespace": p.namespace, "labels": labels}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": p.service_name, "namespace": p.namespace, "labels": labels},
         "spec": {"selector": {"app.kubernetes.io/name": p.service_name},
                  "ports": [{"name": "app", "port": p.port, "targetPort": p.port}]}},
    ]
    if p.secrets:
        docs.append(sec.secret_provider_class(p.service_name, p.namespace, p.secrets))
    for v in p.versions:
        vlabels = {**labels, "meshspec.io/version": v.name}
        proxy = proxies.get(v.name)
        pod_tel = pod_telemetry(replace(telemetry, version=v.name), region=region)
        app = {"name": "app", "image": v.image, "ports": [{"containerPort": p.port, "name": "app"}],
               "env": sorted(_env({**pod_tel.app_env, **p.environment, "MESHSPEC_SERVICE": p.service_name,
                                   "MESHSPEC_VERSION": v.name})
                             + sec.secret_env(p.service_name, p.secrets), key=lambda e: e["name"]),
               "resources": {"requests": {"cpu": f"{p.cpu_millicores}m", "memory": f"{p.memory_mib}Mi"}}}
        containers: list[dict[str, Any]] = [app]
        init: list[dict[str, Any]] = []
        if proxy is not None:
            envoy_env = envoy_environment(telemetry, proxy.environment)
            containers.append({"name": "envoy", "image": proxy.image, "env": _env(envoy_env),
                               "securityContext": {"runAsUser": proxy.ignored_uid},
                               "ports": [{"containerPort": proxy.admin_port, "name": "stats"}],
                               "readinessProbe": {"exec": {"command": [
                                   "sh", "-c", "curl -s http://localhost:9901/server_info | grep state | grep -q LIVE"]}}})
            init.append(replace(proxy, ignored_gid=pod_tel.ignored_gid).pod_init_container([p.port]))
        containers += pod_tel.sidecars
        pod: dict[str, Any] = {"serviceAccountName": p.service_name, "containers": containers}
        if init:
            pod["initContainers"] = init
        if p.secrets:
            app["volumeMounts"] = [dict(sec.SECRET_MOUNT)]
            pod["volumes"] = [sec.secret_volume(p.service_name)]
        template_meta: dict[str, Any] = {"labels": vlabels}
        annotations = dict(pod_tel.annotations)
        if p.log_group_name is not None:
            annotations[LOG_GROUP_ANNOTATION] = p.log_group_name
        if annotations:
            template_meta["annotations"] = annotations
        add_registrar(pod, (registrations or {}).get(v.name), run_as_user=proxy.ignored_uid if proxy else None,
                      parts=p.registrar_parts)
        docs.append({"apiVersion": "apps/v1", "kind": "Deployment",
                     "metadata": {"name": f"{p.service_name}-{v.name}", "namespace": p.namespace, "labels": vlabels},
                     "spec": {"replicas": p.replicas,
                              "selector": {"matchLabels": {"app.kubernetes.io/name": p.service_name,
                                                           "meshspec.io/version": v.name}},
                              "template": {"metadata": template_meta, "spec": pod}}})
    return docs


def telemetry_of(props: KubernetesWorkloadProps, cluster_name: str) -> TelemetryProps:
    """The workload's telemetry: as given, else Application Signals for Python in ``eks:<cluster>/<namespace>``."""
    return props.telemetry or TelemetryProps(service_name=props.service_name, tracing=props.tracing,
                                             environment=f"eks:{cluster_name}/{props.namespace}")


class KubernetesWorkload(Construct):
    """The IAM role and Pod Identity association (CloudFormation) and the manifests (kubectl or files)."""

    def __init__(self, scope: Construct, id: str, *, cluster: EksCluster, props: KubernetesWorkloadProps) -> None:
        if props.secrets and not cluster.secrets_store:
            raise PropsError(f"secrets of {props.service_name!r} need the cluster's Secrets Store CSI driver, but "
                             "its EksClusterProps.secrets_store is False: set it to True, or give no secrets")
        super().__init__(scope, id)
        self.cluster_construct = cluster
        self.props = props
        proxies = {v.name: props.binding.proxy(v.name) if props.binding else None for v in props.versions}
        registrations = {v.name: props.binding.pod_registration(v.name) if props.binding else None
                         for v in props.versions}
        self.role = iam.Role(self, "PodRole", assumed_by=pod_identity_principal(),
                             description=f"pods of {props.service_name}")
        self.role.assume_role_policy.add_statements(iam.PolicyStatement(
            actions=["sts:TagSession"], principals=[iam.ServicePrincipal("pods.eks.amazonaws.com")]))
        for proxy in proxies.values():
            for statement in proxy.policy_statements if proxy else ():
                self.role.add_to_principal_policy(statement)
        for statement in sec.secret_read_statements(props.secrets):
            self.role.add_to_principal_policy(statement)
        self._grant_registration([r for r in registrations.values() if r is not None])
        stack = Stack.of(self)
        cluster_name, region = cluster.name or cluster.cluster.cluster_name, stack.region
        self.manifests = render_manifests(props, proxies, registrations, cluster_name=cluster_name, region=region)
        if any(c["name"] in XRAY_SENDERS for d in self.manifests if d["kind"] == "Deployment"
               for c in d["spec"]["template"]["spec"]["containers"]):
            self.role.add_to_principal_policy(iam.PolicyStatement(actions=list(XRAY_WRITE_ACTIONS), resources=["*"]))
            suppress(self.role, "AwsSolutions-IAM5", XRAY_REASON, applies_to=["Resource::*"])
        eks.CfnPodIdentityAssociation(self, "PodIdentity", cluster_name=cluster.cluster.cluster_name,
                                      namespace=props.namespace, service_account=props.service_name,
                                      role_arn=self.role.role_arn)
        self.manifest_name = props.service_name
        if cluster.applies_manifests:
            eks.KubernetesManifest(self, "Manifests", cluster=cluster.cluster, manifest=self.manifests)

    def _grant_registration(self, registrations: list[PodRegistration]) -> None:
        """The registrar's statements and the role's identity tags (one role for every version of the service)."""
        for r in registrations:
            for statement in r.policy_statements:
                self.role.add_to_principal_policy(statement)
        tags = {k: v for r in registrations for k, v in r.role_tags.items()}
        for key, value in sorted(tags.items()):
            Tags.of(self.role).add(key, value)
        if registrations:
            registrar = registrar_for(registrations[0], self.props.registrar_parts)
            suppress(self.role, "AwsSolutions-IAM5", registrar.lookup_reason(), applies_to=registrar.wildcards())


def write_manifests(root: IConstruct | None, outdir: str | Path, *,
                    workloads: Iterable[KubernetesWorkload | PodLogRouter] | None = None) -> list[Path]:
    """Write every KubernetesWorkload's and PodLogRouter's manifests that CloudFormation does not apply to
    ``outdir/k8s/<stack>/<name>.json`` (a kubectl-readable List; ``name``: the service, or
    ``meshspec-fluent-bit``). Returns the files written.

    ``workloads``: the workloads and routers, when the caller kept them. Default: found under ``root`` (a walk
    over every construct of the app through jsii, which costs about a second at 500 services)."""
    written = []
    found = workloads if workloads is not None else root.node.find_all()
    for c in found:
        if isinstance(c, (KubernetesWorkload, PodLogRouter)) and not c.cluster_construct.applies_manifests:
            stack = Stack.of(c)
            resolved = stack.resolve(c.manifests)
            text = json.dumps({"apiVersion": "v1", "kind": "List", "items": resolved}, indent=2, sort_keys=True)
            if '"Fn::' in text or '"Ref"' in text or Token.is_unresolved(text):
                raise PropsError(f"the manifests of {c.manifest_name!r} hold values known only at deploy time; "
                                 "give the stack an explicit account and region, or give the cluster a kubectl_layer "
                                 "so CloudFormation applies them")
            path = Path(outdir) / "k8s" / stack.stack_name / f"{c.manifest_name}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text + "\n", encoding="utf-8")
            written.append(path)
    return written
