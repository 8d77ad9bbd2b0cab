"""Zero-code OpenTelemetry for one code version's task or pod: CloudWatch Application Signals.

On ECS (Fargate and EC2) each task gets, as AWS's sidecar setup for Application Signals describes
(docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Application-Signals-ECS-Sidecar.html):

- a ``cloudwatch-agent`` container: Application Signals' OTLP endpoint on localhost:4316 (metrics and traces) and
  its sampling proxy on 2000/tcp, and (with tracing on) an X-Ray receiver on 127.0.0.1:2000/udp that takes Envoy's
  X-Ray segments, so Envoy's spans and the application's land in the same traces without the X-Ray daemon (an app
  still on an X-Ray SDK keeps sending where the daemon listened);
- an ``adot-init`` container that copies the AWS Distro for OpenTelemetry (ADOT) agent of the service's language
  into a task volume, the app container mounting it and starting with it through its environment (``PYTHONPATH``,
  ``JAVA_TOOL_OPTIONS``, ``NODE_OPTIONS``, the CoreCLR profiler).

On EKS the cluster's Amazon CloudWatch Observability add-on runs the agent and injects ADOT where a pod carries
``instrumentation.opentelemetry.io/inject-<language>``; with tracing on, each pod also gets an agent sidecar that
only takes X-Ray segments where the daemon listened (Envoy sends them to 127.0.0.1, inside the pod).

Images and variables follow what AWS's own construct library sets (``@aws-cdk/aws-applicationsignals-alpha``
2.275, ``lib/enablement``); meshspec does not depend on that alpha package: see docs/observability.md.
``language: none`` keeps the agent (the team's own instrumentation sends to it) and injects nothing. The legacy
choice ``xray-daemon`` keeps the X-Ray daemon sidecar (end of support 2027-02-25) and nothing else.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Literal, Mapping

from aws_cdk import Aws
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam

from .errors import PropsError
from .nag import XRAY_REASON, suppress

Language = Literal["python", "java", "nodejs", "dotnet", "none"]
Agent = Literal["cloudwatch", "xray-daemon"]

# A release tag, not :latest, so a redeploy runs what was tested (gallery.ecr.aws/cloudwatch-agent/cloudwatch-agent).
AGENT_IMAGE = "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300064.1b1344"
AGENT_CONTAINER = "cloudwatch-agent"
# Root user, group 1338, as AWS's construct library runs the agent: the App Mesh proxy configuration ignores this
# group (IgnoredGID), so the agent's calls to CloudWatch and X-Ray leave past Envoy (whose filter would drop them).
AGENT_GID = 1338
AGENT_USER = f"0:{AGENT_GID}"
OTLP_PORT = 4316  # Application Signals' OTLP/HTTP endpoint in the agent
SAMPLING_PORT = 2000  # Application Signals' sampling proxy (tcp); Envoy's segments arrive on the same port, udp
XRAY_PROXY_PORT = 2001  # the X-Ray receiver's own tcp proxy, kept off 2000 where Application Signals' proxy listens
XRAY_DAEMON_IMAGE = "public.ecr.aws/xray/aws-xray-daemon:3.3.14"
XRAY_DAEMON_CONTAINER = "xray-daemon"
# X-Ray has no resource-level permissions (docs.aws.amazon.com/xray/latest/devguide/security_iam_service-with-iam.html).
XRAY_WRITE_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                      "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries")
# Application Signals' metrics reach CloudWatch as embedded metric format in this log group (the agent creates it).
APPLICATION_SIGNALS_LOG_GROUP = "/aws/application-signals/data"
APPLICATION_SIGNALS_LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                                   "logs:DescribeLogStreams", "logs:PutRetentionPolicy")
INIT_CONTAINER = "adot-init"
VOLUME = "opentelemetry-auto-instrumentation"
ENVOY_TRACING = "ENABLE_ENVOY_XRAY_TRACING"
# App Mesh's Envoy: the share of requests it traces (0.00 to 1.00; App Mesh user guide, "Envoy configuration
# variables").
ENVOY_SAMPLING = "XRAY_SAMPLING_RATE"


@dataclass(frozen=True)
class Adot:
    """One language's ADOT auto-instrumentation image (the newest AWS's construct library 2.275 offers), what its
    init container runs, where the app mounts it, and the init container's memory limit."""

    image: str
    command: tuple[str, ...]
    path: str
    memory_mib: int


ADOT: dict[str, Adot] = {
    "python": Adot("public.ecr.aws/aws-observability/adot-autoinstrumentation-python:v0.9.0",
                   ("cp", "-a", "/autoinstrumentation/.", "/otel-auto-instrumentation-python"),
                   "/otel-auto-instrumentation-python", 32),
    "java": Adot("public.ecr.aws/aws-observability/adot-autoinstrumentation-java:v2.10.0",
                 ("cp", "/javaagent.jar", "/otel-auto-instrumentation/javaagent.jar"),
                 "/otel-auto-instrumentation", 64),
    "nodejs": Adot("public.ecr.aws/aws-observability/adot-autoinstrumentation-node:v0.6.0",
                   ("cp", "-a", "/autoinstrumentation/.", "/otel-auto-instrumentation-nodejs"),
                   "/otel-auto-instrumentation-nodejs", 128),
    "dotnet": Adot("public.ecr.aws/aws-observability/adot-autoinstrumentation-dotnet:v1.7.0",
                   ("cp", "-a", "/autoinstrumentation/.", "/otel-auto-instrumentation-dotnet"),
                   "/otel-auto-instrumentation-dotnet", 128),
}
LANGUAGES = (*ADOT, "none")


@dataclass(frozen=True)
class TelemetryProps:
    """How one code version reports. ``service_name`` and ``environment`` (the Application Signals environment,
    e.g. ``ecs:shop-core``) are required.

    - ``agent``: ``cloudwatch`` (default: the CloudWatch agent with Application Signals) or ``xray-daemon`` (the
      legacy X-Ray daemon sidecar and nothing else).
    - ``language``: the ADOT agent injected into the app: ``python`` (default), ``java``, ``nodejs``, ``dotnet``,
      or ``none`` (the team instruments the service itself; the agent still takes its OTLP and Envoy's segments).
    - ``version``: the code version, reported as ``service.version``. Default: not reported.
    - ``sampling_percent``: percent of traces kept, by Envoy and the app alike (0 to 100). Default: 5.
    - ``tracing``: export traces at all. Default: True. Off, Envoy traces nothing and the app's sampler is
      ``always_off``; Application Signals' metrics still count every request.
    """

    service_name: str
    environment: str
    agent: Agent = "cloudwatch"
    language: Language = "python"
    version: str | None = None
    sampling_percent: Decimal = Decimal(5)
    tracing: bool = True

    def __post_init__(self) -> None:
        if self.agent not in ("cloudwatch", "xray-daemon"):
            raise PropsError(f"agent is {self.agent!r}: allowed cloudwatch or xray-daemon")
        if self.language not in LANGUAGES:
            raise PropsError(f"language is {self.language!r}: allowed {', '.join(LANGUAGES)}")
        if not Decimal(0) <= Decimal(self.sampling_percent) <= Decimal(100):
            raise PropsError(f"sampling_percent is {self.sampling_percent}: allowed 0 to 100")

    @property
    def instruments(self) -> bool:
        """Whether an ADOT agent is injected (the CloudWatch agent and a language)."""
        return self.agent == "cloudwatch" and self.language != "none"

    @property
    def ratio(self) -> str:
        """The sampling percentage as a ratio, as OpenTelemetry and Envoy take it: ``0.05``."""
        return _plain(Decimal(self.sampling_percent) / 100)


def _plain(d: Decimal) -> str:
    """``0.05``, ``1``, ``0``: no exponent, no trailing zeros."""
    return format(d.normalize(), "f")


# -- pure parts: configuration and environment --------------------------------------------------------------------
def agent_config(*, application_signals: bool = True, xray: bool = True) -> dict[str, Any]:
    """The CloudWatch agent's configuration (``CW_CONFIG_CONTENT``): Application Signals' metrics and traces, and an
    X-Ray receiver for Envoy's segments on 127.0.0.1:2000/udp (its tcp proxy on 2001: 2000/tcp is Application
    Signals' sampling proxy). CloudWatch agent user guide, "Collect traces" and "Enable Application Signals"."""
    traces: dict[str, Any] = {}
    config: dict[str, Any] = {}
    if application_signals:
        traces["application_signals"] = {}
        config["logs"] = {"metrics_collected": {"application_signals": {}}}
    if xray:
        traces["xray"] = {"bind_address": f"127.0.0.1:{SAMPLING_PORT}",
                          "tcp_proxy": {"bind_address": f"127.0.0.1:{XRAY_PROXY_PORT}"}}
    if not traces:
        raise PropsError("an agent configuration needs application_signals or xray")
    config["traces"] = {"traces_collected": traces}
    return config


def resource_attributes(props: TelemetryProps) -> str:
    """``OTEL_RESOURCE_ATTRIBUTES``: the code version and the Application Signals environment."""
    attrs = [f"deployment.environment={props.environment}"]
    if props.version:
        attrs.append(f"service.version={props.version}")
    return ",".join(attrs)


def sampler_environment(props: TelemetryProps) -> dict[str, str]:
    """The app's sampler: the spec's share of new traces, a caller's (or Envoy's) decision followed."""
    if not props.tracing:
        return {"OTEL_TRACES_SAMPLER": "always_off"}
    return {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": props.ratio}


def _language_environment(language: str) -> dict[str, str]:
    """What starts the ADOT agent in the app (as AWS's construct library sets it; .NET on Linux x86-64)."""
    adot = ADOT[language]
    if language == "python":
        return {"OTEL_PYTHON_DISTRO": "aws_distro", "OTEL_PYTHON_CONFIGURATOR": "aws_configurator",
                "OTEL_PYTHON_LOG_CORRELATION": "true",  # trace ids in the log lines (logging instrumentation)
                "PYTHONPATH": f"{adot.path}/opentelemetry/instrumentation/auto_instrumentation:{adot.path}"}
    if language == "java":
        return {"JAVA_TOOL_OPTIONS": f" -javaagent:{adot.path}/javaagent.jar"}
    if language == "nodejs":
        return {"NODE_OPTIONS": f" --require {adot.path}/autoinstrumentation.js"}
    return {"OTEL_DOTNET_DISTRO": "aws_distro", "OTEL_DOTNET_CONFIGURATOR": "aws_configurator",
            "OTEL_DOTNET_AUTO_PLUGINS": "AWS.Distro.OpenTelemetry.AutoInstrumentation.Plugin, "
                                        "AWS.Distro.OpenTelemetry.AutoInstrumentation",
            "CORECLR_ENABLE_PROFILING": "1", "CORECLR_PROFILER": "{918728DD-259F-4A6A-AC2B-B85E1B658318}",
            "CORECLR_PROFILER_PATH": f"{adot.path}/linux-x64/OpenTelemetry.AutoInstrumentation.Native.so",
            "DOTNET_STARTUP_HOOKS": f"{adot.path}/net/OpenTelemetry.AutoInstrumentation.StartupHook.dll",
            "DOTNET_ADDITIONAL_DEPS": f"{adot.path}/AdditionalDeps", "OTEL_DOTNET_AUTO_HOME": adot.path,
            "DOTNET_SHARED_STORE": f"{adot.path}/store"}


def _merge(ours: Mapping[str, str], theirs: Mapping[str, str]) -> dict[str, str]:
    """The app's own variables win, except the ones that start the agent: those are joined with the team's
    (``PYTHONPATH`` around it, the agent's options after ``JAVA_TOOL_OPTIONS`` and ``NODE_OPTIONS``)."""
    out = {**ours, **theirs}
    if "PYTHONPATH" in ours and "PYTHONPATH" in theirs:
        first, _, rest = ours["PYTHONPATH"].partition(":")
        out["PYTHONPATH"] = f"{first}:{theirs['PYTHONPATH']}:{rest}"
    for key in ("JAVA_TOOL_OPTIONS", "NODE_OPTIONS"):
        if key in ours and key in theirs:
            out[key] = theirs[key] + ours[key]
    return out


def app_environment(props: TelemetryProps, env: Mapping[str, str]) -> dict[str, str]:
    """The app container's variables on ECS: ``env`` plus what instruments it and points it at the agent sidecar
    on localhost (nothing is added with ``language: none`` or the X-Ray daemon)."""
    if not props.instruments:
        return dict(env)
    ours = {"OTEL_SERVICE_NAME": props.service_name, "OTEL_RESOURCE_ATTRIBUTES": resource_attributes(props),
            "OTEL_AWS_APPLICATION_SIGNALS_ENABLED": "true",
            "OTEL_AWS_APPLICATION_SIGNALS_EXPORTER_ENDPOINT": f"http://localhost:{OTLP_PORT}/v1/metrics",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://localhost:{OTLP_PORT}/v1/traces",
            "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none",
            "OTEL_PROPAGATORS": "tracecontext,baggage,xray",  # X-Ray's header: Envoy's spans join the trace
            **sampler_environment(props), **_language_environment(props.language)}
    return _merge(ours, env)


def envoy_environment(props: TelemetryProps, env: Mapping[str, str]) -> dict[str, str]:
    """Envoy's variables: its X-Ray tracing at the spec's sampling rate, or none when tracing is off."""
    out = dict(env)
    if not props.tracing:
        out.pop(ENVOY_TRACING, None)
    elif ENVOY_TRACING in out:
        out[ENVOY_SAMPLING] = props.ratio
    return out


def proxy_ignored_gid(props: TelemetryProps) -> int | None:
    """The group the App Mesh proxy configuration lets past Envoy: the agent's, when it runs."""
    return AGENT_GID if props.agent == "cloudwatch" else None


# -- ECS -----------------------------------------------------------------------------------------------------
def add_to_task(task_definition: ecs.TaskDefinition, app: ecs.ContainerDefinition, props: TelemetryProps, *,
                log: Callable[[str], ecs.LogDriver]) -> None:
    """The agent (or the legacy X-Ray daemon), the ADOT init container and volume, and the task role's rights.
    ``app`` got its variables from :func:`app_environment` when it was created (one jsii call, not one per
    variable)."""
    role = task_definition.task_role
    if props.agent == "xray-daemon":
        if not props.tracing:
            return
        task_definition.add_container(
            XRAY_DAEMON_CONTAINER, image=_registry(XRAY_DAEMON_IMAGE), essential=False, user="1337",
            memory_reservation_mib=64, logging=log("xray"),
            port_mappings=[ecs.PortMapping(container_port=2000, protocol=ecs.Protocol.UDP)])
        task_definition.add_to_task_role_policy(iam.PolicyStatement(actions=list(XRAY_WRITE_ACTIONS), resources=["*"]))
        suppress(role, "AwsSolutions-IAM5", XRAY_REASON, applies_to=["Resource::*"])
        return
    config = agent_config(application_signals=True, xray=props.tracing)
    task_definition.add_container(
        AGENT_CONTAINER, image=_registry(AGENT_IMAGE), essential=False, user=AGENT_USER,
        memory_reservation_mib=64, logging=log(AGENT_CONTAINER),
        environment={"CW_CONFIG_CONTENT": json.dumps(config, separators=(",", ":"), sort_keys=True)})
    for statement in agent_statements():
        task_definition.add_to_task_role_policy(statement)
    suppress(role, "AwsSolutions-IAM5", AGENT_REASON, applies_to=["Resource::*", f"Resource::{LOG_GROUP_SHOWN}:*"])
    if props.instruments:
        adot = ADOT[props.language]
        task_definition.add_volume(name=VOLUME)
        init = task_definition.add_container(
            INIT_CONTAINER, image=_registry(adot.image), essential=False, command=list(adot.command),
            memory_limit_mib=adot.memory_mib, logging=log(INIT_CONTAINER))
        mount = ecs.MountPoint(source_volume=VOLUME, container_path=adot.path, read_only=False)
        init.add_mount_points(mount)
        app.add_mount_points(mount)
        app.add_container_dependencies(ecs.ContainerDependency(
            container=init, condition=ecs.ContainerDependencyCondition.SUCCESS))


AGENT_REASON = ("the CloudWatch agent writes X-Ray segments (X-Ray has no resource-level permissions) and "
                "Application Signals' metrics to the log group " + APPLICATION_SIGNALS_LOG_GROUP + " and its "
                "streams (created by the agent; the statement names that group only)")


def agent_statements() -> tuple[iam.PolicyStatement, ...]:
    """What the agent needs: X-Ray writes and sampling reads, and Application Signals' log group, nothing more
    (AWS's guide attaches CloudWatchAgentServerPolicy, which may write any log group and metric). The group's ARN
    in the task's own partition, region and account (pseudo parameters: no lookup per task)."""
    group = _log_group_arn()
    return (iam.PolicyStatement(actions=list(XRAY_WRITE_ACTIONS), resources=["*"]),
            iam.PolicyStatement(actions=list(APPLICATION_SIGNALS_LOG_ACTIONS), resources=[group, f"{group}:*"]))


# The log group's ARN as cdk-nag prints it: pseudo parameters in angle brackets.
LOG_GROUP_SHOWN = f"arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:{APPLICATION_SIGNALS_LOG_GROUP}"


@functools.cache
def _log_group_arn() -> str:
    """Read once per process: each read of a pseudo parameter is a jsii round trip."""
    return f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:{APPLICATION_SIGNALS_LOG_GROUP}"


@functools.cache
def _registry(name: str) -> ecs.ContainerImage:
    """A public registry image, created once per process (it holds no construct, so every task definition shares
    it), as ``meshspec.constructs_lib.ecs.service.registry_image`` does for Envoy's."""
    return ecs.ContainerImage.from_registry(name)


# -- EKS -----------------------------------------------------------------------------------------------------
INJECT_ANNOTATION = "instrumentation.opentelemetry.io/inject-{language}"


@dataclass(frozen=True)
class PodTelemetry:
    """What a pod of one code version gets: annotations on its template, variables for the app container,
    sidecar containers (each writes X-Ray segments), the group whose traffic goes past the proxy (the agent's)."""

    annotations: dict[str, str]
    app_env: dict[str, str]
    sidecars: list[dict[str, Any]]
    ignored_gid: int | None = None


def pod_telemetry(props: TelemetryProps, *, region: str) -> PodTelemetry:
    """Pure. The Observability add-on injects ADOT (annotation ``instrumentation.opentelemetry.io/inject-<lang>``)
    and points it at its node agent; the pod says its service name (the add-on would take the Deployment's,
    ``<service>-<version>``), environment and sampler, which the add-on's injection leaves as set. With tracing
    on, a pod runs an agent sidecar for X-Ray segments only (Envoy sends them to 127.0.0.1, in the pod)."""
    if props.agent == "xray-daemon":
        sidecars = [{"name": XRAY_DAEMON_CONTAINER, "image": XRAY_DAEMON_IMAGE,
                     "ports": [{"containerPort": 2000, "protocol": "UDP"}]}] if props.tracing else []
        return PodTelemetry({}, {}, sidecars)
    annotations = {INJECT_ANNOTATION.format(language=props.language): "true"} if props.instruments else {}
    env: dict[str, str] = {}
    if props.instruments:
        env = {"OTEL_SERVICE_NAME": props.service_name, "OTEL_RESOURCE_ATTRIBUTES": resource_attributes(props),
               **sampler_environment(props)}
        if props.language == "python":
            env["OTEL_PYTHON_LOG_CORRELATION"] = "true"
    sidecars: list[dict[str, Any]] = []
    ignored_gid: int | None = None
    if props.tracing:
        sidecars.append({
            "name": AGENT_CONTAINER, "image": AGENT_IMAGE,
            "env": [{"name": "AWS_REGION", "value": region},
                    {"name": "CW_CONFIG_CONTENT", "value": json.dumps(
                        agent_config(application_signals=False, xray=True), separators=(",", ":"), sort_keys=True)}],
            "securityContext": {"runAsUser": 0, "runAsGroup": AGENT_GID},
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}}})
        ignored_gid = AGENT_GID
    return PodTelemetry(annotations, env, sidecars, ignored_gid)


# -- EKS: the Amazon CloudWatch Observability add-on -----------------------------------------------------------
def observability_addon_configuration(*, container_insights: bool, enhanced: bool = True,
                                      application_signals: bool = True) -> dict[str, Any]:
    """The add-on's configuration values (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
    install-CloudWatch-Observability-EKS-addon.html): Container Insights (enhanced or not) and Application
    Signals, each on only when asked; without Container Insights its Fluent Bit (container logs) is off too."""
    metrics: dict[str, Any] = {}
    if container_insights:
        metrics["kubernetes"] = {"enhanced_container_insights": enhanced}
    if application_signals:
        metrics["application_signals"] = {}
    config: dict[str, Any] = {}
    if metrics:
        config["logs"] = {"metrics_collected": metrics}
    if application_signals:
        config["traces"] = {"traces_collected": {"application_signals": {}}}
    return {"agent": {"config": config}, "containerLogs": {"enabled": container_insights}}


__all__ = ["ADOT", "AGENT_CONTAINER", "AGENT_GID", "AGENT_IMAGE", "LANGUAGES", "PodTelemetry", "TelemetryProps",
           "XRAY_DAEMON_IMAGE", "XRAY_WRITE_ACTIONS", "add_to_task", "agent_config", "app_environment",
           "envoy_environment", "observability_addon_configuration", "pod_telemetry", "proxy_ignored_gid"]
