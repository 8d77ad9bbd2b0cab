"""A log group per service and the Logs Insights queries an on-call engineer needs first.

The built-in queries read Envoy's JSON access log lines (the fields :mod:`meshspec.constructs_lib.metric_names` names:
``service``, ``version``, ``path``, ``response_code``, ``duration`` in ms, ``trace_id``, ``upstream_cluster``).
Errors and latency count the requests the service received (App Mesh's inbound clusters, ``cds_ingress_*``),
not the calls it made to its backends, which the same Envoy logs with the callee's status and time.

``trace-lookup`` finds every line of one trace in the log group, Envoy's and the app's: a trace id has the same 24
hex digits at its end in every form it is written in. Envoy logs X-Ray's header (``Root=1-5759e988-
bd862e3fe1be46a994272793;...``), OpenTelemetry's log correlation the W3C form (``trace_id=5759e988bd862e3fe1be46a9
94272793``), so the query takes those 24 digits as its parameter (``{{traceId}}``, a Logs Insights query
parameter) and matches them anywhere in the line.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Mapping, Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

if TYPE_CHECKING:  # only a prop's type: not imported on every synth
    from aws_cdk import aws_kms as kms

from .errors import PropsError, contradiction

BuiltinQuery = Literal["errors-by-service", "p99-latency-by-version", "trace-lookup"]
BUILTIN_QUERIES: dict[str, str] = {
    "errors-by-service": (
        "fields @timestamp, service, version, path, response_code\n"
        "| filter response_code >= 500 and upstream_cluster like /^cds_ingress_/\n"
        "| stats count(*) as errors by service, version\n"
        "| sort errors desc"),
    "p99-latency-by-version": (
        "filter ispresent(duration) and upstream_cluster like /^cds_ingress_/\n"
        "| stats pct(duration, 50) as p50_ms, pct(duration, 99) as p99_ms, count(*) as requests by service, version\n"
        "| sort service, version"),
    "trace-lookup": (
        "fields @timestamp, @logStream, service, version, path, response_code, duration, @message\n"
        "| filter @message like \"{{traceId}}\"\n"
        "| sort @timestamp asc"),
}
# Logs Insights query parameters of the built-in queries: name → description (CloudWatch Logs API, QueryParameter).
BUILTIN_PARAMETERS: dict[str, dict[str, str]] = {
    "trace-lookup": {"traceId": "the trace id's last 24 hex digits, the same in every form: X-Ray shows "
                                "1-5759e988-bd862e3fe1be46a994272793, OpenTelemetry logs 5759e988bd862e3fe1be46a994272793; "
                                "give bd862e3fe1be46a994272793"},
}
_R = logs.RetentionDays
# CloudWatch Logs' retention periods in days (PutRetentionPolicy); jsii enums carry names, not the numbers.
RETENTION = {1: _R.ONE_DAY, 3: _R.THREE_DAYS, 5: _R.FIVE_DAYS, 7: _R.ONE_WEEK, 14: _R.TWO_WEEKS,
             30: _R.ONE_MONTH, 60: _R.TWO_MONTHS, 90: _R.THREE_MONTHS, 120: _R.FOUR_MONTHS, 150: _R.FIVE_MONTHS,
             180: _R.SIX_MONTHS, 365: _R.ONE_YEAR, 400: _R.THIRTEEN_MONTHS, 545: _R.EIGHTEEN_MONTHS,
             731: _R.TWO_YEARS, 1096: _R.THREE_YEARS, 1827: _R.FIVE_YEARS, 2192: _R.SIX_YEARS,
             2557: _R.SEVEN_YEARS, 2922: _R.EIGHT_YEARS, 3288: _R.NINE_YEARS, 3653: _R.TEN_YEARS}


@dataclass(frozen=True)
class CustomQuery:
    """A saved query: ``name`` (shown under the service's folder) and the Logs Insights ``query`` text."""

    name: str
    query: str


@dataclass(frozen=True)
class ServiceLogsProps:
    """- ``service_name``: required; names the query folder.
    - ``log_group_name``: Default: a name CloudFormation generates.
    - ``retention_days``: one of CloudWatch's retention periods. Default: 30. ``None`` keeps logs forever
      only when ``keep_forever`` is True.
    - ``keep_forever``: never expire log events. Default: False (``retention_days`` applies).
    - ``removal_policy``: ``retain`` (default: the log group outlives the stack) or ``destroy``.
    - ``encryption_key``: a KMS key for the log group. Default: CloudWatch's own encryption.
    - ``builtin_queries``: Default: all three (errors by service, p99 latency per version, trace lookup).
    - ``custom_queries``: Default: none.
    - ``query_folder``: Default: ``service_name``.
    """

    service_name: str
    log_group_name: str | None = None
    retention_days: int | None = 30
    keep_forever: bool = False
    removal_policy: Literal["retain", "destroy"] = "retain"
    encryption_key: kms.IKey | None = None
    builtin_queries: tuple[BuiltinQuery, ...] = tuple(BUILTIN_QUERIES)  # type: ignore[assignment]
    custom_queries: tuple[CustomQuery, ...] = ()
    query_folder: str | None = None

    def __post_init__(self) -> None:
        if self.keep_forever and self.retention_days is not None:
            raise contradiction("keep_forever", True, "retention_days", self.retention_days,
                                "set retention_days=None to keep logs forever")
        if not self.keep_forever and self.retention_days not in RETENTION:
            raise PropsError(f"retention_days is {self.retention_days!r}: CloudWatch Logs takes only "
                             f"{', '.join(map(str, sorted(RETENTION)))}")
        unknown = [q for q in self.builtin_queries if q not in BUILTIN_QUERIES]
        if unknown:
            raise PropsError(f"builtin_queries has unknown {unknown}: allowed {', '.join(BUILTIN_QUERIES)}")
        names = [q.name for q in self.custom_queries] + list(self.builtin_queries)
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise PropsError(f"query names must be unique; {dupes} appear twice")
        if self.removal_policy not in ("retain", "destroy"):
            raise PropsError(f"removal_policy is {self.removal_policy!r}: allowed retain or destroy")


class ServiceLogs(Construct):
    """The service's log group and its saved Logs Insights queries."""

    def __init__(self, scope: Construct, id: str, props: ServiceLogsProps) -> None:
        super().__init__(scope, id)
        self.log_group = logs.LogGroup(
            self, "Resource", log_group_name=props.log_group_name,
            retention=logs.RetentionDays.INFINITE if props.keep_forever else RETENTION[props.retention_days],
            removal_policy=RemovalPolicy.RETAIN if props.removal_policy == "retain" else RemovalPolicy.DESTROY,
            encryption_key=props.encryption_key)
        if props.encryption_key is not None:
            # CloudWatch Logs must be allowed to use the key (docs: encrypt-log-data-kms.html).
            props.encryption_key.grant_encrypt_decrypt(_logs_principal(self))
        else:
            acknowledge_default_encryption(self.log_group)
        folder = props.query_folder or props.service_name
        group_name = self.log_group.log_group_name  # one jsii read for all the queries
        self.queries: dict[str, logs.CfnQueryDefinition] = {}
        for name in props.builtin_queries:
            self.queries[name] = saved_query(self, f"Query-{name}", f"{folder}/{name}", BUILTIN_QUERIES[name],
                                             [group_name], parameters=BUILTIN_PARAMETERS.get(name))
        for q in props.custom_queries:
            self.queries[q.name] = saved_query(self, f"Custom-{q.name}", f"{folder}/{q.name}", q.query,
                                               [group_name])


def saved_query(scope: Construct, id: str, name: str, text: str, log_groups: Sequence[logs.ILogGroup | str],
                parameters: Mapping[str, str] | None = None) -> logs.CfnQueryDefinition:
    """A saved query from raw Logs Insights text (QueryString's builder would rewrite it). ``log_groups``: log
    groups or their names. ``parameters``: the ``{{name}}`` placeholders of the text, name → description.
    Default: none.

    The L1 resource sits where logs.QueryDefinition puts its own (``id/Resource``), so the logical id is the
    L2's; it takes 2 jsii round trips where the L2 plus the raw-text override take 5 (benchmarks/README.md)."""
    names = [g if isinstance(g, str) else g.log_group_name for g in log_groups]
    params = [logs.CfnQueryDefinition.QueryParameterProperty(name=k, description=v)
              for k, v in (parameters or {}).items()] or None
    return logs.CfnQueryDefinition(Construct(scope, id), "Resource", name=name, query_string=text,
                                   log_group_names=names, parameters=params)


def _logs_principal(scope: Construct) -> iam.IPrincipal:
    return iam.ServicePrincipal(f"logs.{Stack.of(scope).region}.amazonaws.com")


DEFAULT_ENCRYPTION_REASON = (
    "CloudWatch Logs encrypts log data at rest with its own keys; no customer managed KMS key was asked for "
    "(meshspec: defaults.logKmsKey)")


def acknowledge_default_encryption(log_group: logs.ILogGroup) -> None:
    """checkov's CKV_AWS_158 (log group without a KMS key) acknowledged with its reason, where no key was asked for."""
    from .nag import skip_checkov

    skip_checkov(log_group.node.default_child, "CKV_AWS_158", DEFAULT_ENCRYPTION_REASON)


def log_encryption_key(scope: Construct, id: str) -> "kms.Key":
    """A customer managed KMS key that CloudWatch Logs may use for the log groups of this account and region,
    rotated every year. The key policy lets the regional logs principal use it only with a log group's ARN as
    encryption context (docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html); the key
    outlives the stack, as the log groups it encrypts do."""
    from aws_cdk import aws_kms as kms

    stack = Stack.of(scope)
    key = kms.Key(scope, id, enable_key_rotation=True, removal_policy=RemovalPolicy.RETAIN,
                  description="meshspec: encrypts the project's CloudWatch Logs log groups")
    key.add_to_resource_policy(iam.PolicyStatement(
        principals=[_logs_principal(scope)],
        actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        resources=["*"],
        conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*"}}))
    return key


def imported_key(scope: Construct, id: str, key_arn: str | None) -> "kms.IKey | None":
    """The key at ``key_arn`` (a token of another stack's key, or an ARN), or None without one."""
    if key_arn is None:
        return None
    from aws_cdk import aws_kms as kms

    return kms.Key.from_key_arn(scope, id, key_arn)
