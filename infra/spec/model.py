"""The meshspec v1 model: frozen pydantic models, the single source of the JSON Schema.

Field-level rules (types, enums, patterns, ranges) live here; rules that relate several parts of the spec
(references, traffic sums, quotas) live in :mod:`meshspec.infra.spec.checks`, so one run reports all of them.
YAML keys are camelCase; Python attributes are snake_case.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

import re

from pydantic import (AfterValidator, ConfigDict, Field, PlainSerializer, PlainValidator, StringConstraints,
                      create_model, field_validator)
from pydantic_core import PydanticCustomError, core_schema

from meshspec.infra.mesh import registry

from .base import SpecModel

from .quotas import CODEPIPELINE_ACTIONS_PER_STAGE

API_VERSION = "meshspec/v1"

DNS_LABEL = r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
VERSION_ID = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
MAJOR = r"^v[1-9][0-9]{0,2}$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
KMS_KEY_ARN = r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$"
KUBERNETES_VERSION = r"^1\.[0-9]{2}$"
AWS_REGION = r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$"
AWS_ACCOUNT = r"^[0-9]{12}$"
AWS_ZONE = r"^[a-z]{2}(-gov)?-[a-z]+-[0-9][a-z]$"
GCP_PROJECT = r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$"
GCP_LOCATION = r"^[a-z]+-[a-z]+[0-9]?$|^[a-z]+[0-9]?$"
APPENGINE_RUNTIME = r"^[a-z][a-z0-9.-]{1,30}$"
MAJOR_PATH = r"^/([A-Za-z0-9._~-]+/)*$"
HEALTH_PATH = r"^/[^\s]*$"
QUERY_NAME = r"^[A-Za-z0-9][A-Za-z0-9 _./-]{0,200}$"

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                      2922, 3288, 3653)

DnsLabel = Annotated[str, StringConstraints(pattern=DNS_LABEL)]
VersionId = Annotated[str, StringConstraints(pattern=VERSION_ID)]
MajorName = Annotated[str, StringConstraints(pattern=MAJOR)]
EnvName = Annotated[str, StringConstraints(pattern=ENV_NAME)]
# A share is a percentage of one major's traffic. Integers everywhere; App Engine also takes tenths on
# cookie and random splits (checks.py says which splits take which).
Share = Annotated[float, Field(ge=0, le=100)]  # as the JSON Schema shows it; validated to Decimal
EnvValue = str | int | float | bool


def _retention(v: int) -> int:
    if v not in LOG_RETENTION_DAYS:
        raise PydanticCustomError("retention", "CloudWatch Logs takes only {allowed} days",
                                  {"allowed": ", ".join(map(str, LOG_RETENTION_DAYS))})
    return v


# One rule for every retention key (defaults and per service), shown to editors as the list CloudWatch takes.
RetentionDays = Annotated[int, AfterValidator(_retention), Field(json_schema_extra={"enum": list(LOG_RETENTION_DAYS)})]
CAPACITIES = ("fargate", "ec2")
CapacityName = Literal["fargate", "ec2"]
INSTANCE_TYPE = r"^[a-z][a-z0-9-]*\.[a-z0-9]+$"
InstanceType = Annotated[str, StringConstraints(pattern=INSTANCE_TYPE)]


_Model = SpecModel


class Defaults(_Model):
    """Project-wide defaults that each service may inherit."""

    log_retention_days: RetentionDays = Field(30, description="CloudWatch Logs retention in days. Default: 30.")
    log_removal_policy: Literal["retain", "destroy"] = Field(
        "retain", description="What happens to log groups when a stack is deleted. Default: retain.")
    tracing: bool = Field(True, description="Traces for every AWS service: Envoy's spans and the applications' "
                                            "(Application Signals keeps its metrics and SLOs either way). Default: on.")
    log_kms_key: str | None = Field(
        None, examples=["create"], description="A customer managed KMS key for every AWS log group meshspec creates: `create` (one key "
                          "in the shared stack, rotated yearly, with the key policy CloudWatch Logs needs) or the "
                          "ARN of an existing key in the spec's region, whose key policy lets CloudWatch Logs use "
                          "it. Default: CloudWatch Logs' own encryption.")

    @field_validator("log_kms_key", mode="plain", json_schema_input_type=Literal["create"] | Annotated[
        str, StringConstraints(pattern=KMS_KEY_ARN)] | None)
    @classmethod
    def _log_kms_key(cls, v: object) -> str | None:
        """One clear message instead of pydantic's one per union member."""
        if v is None or v == "create" or (isinstance(v, str) and re.match(KMS_KEY_ARN, v)):
            return v
        raise PydanticCustomError("log_kms_key", "logKmsKey is `create` or the ARN of a KMS key",
                                  {"allowed": "create, or arn:aws:kms:REGION:ACCOUNT:key/KEY_ID (not an alias)"})


class Cluster(_Model):
    """An ECS or EKS cluster that services run on."""

    name: DnsLabel
    platform: Literal["ecs", "eks"]
    capacity: CapacityName | tuple[CapacityName, ...] | None = Field(
        None, examples=["ec2", ["ec2", "fargate"]], description="ECS only: fargate, ec2, or a list of both (a service picks one with its own capacity key; "
                          "the first listed is the default). Default: fargate. EKS clusters run on managed compute "
                          "(Auto Mode).")
    container_insights: Literal["off", "on", "enhanced"] = Field(
        "enhanced", description="CloudWatch Container Insights. Default: enhanced.")
    instance_type: InstanceType | None = Field(
        None, examples=["c6i.large", "m7g.xlarge"], description="EC2 capacity only: the instance type, one of those `meshspec validate` knows (its "
                          "CPU, memory and ENI figures check that tasks fit). Default: m6i.large.")
    min_capacity: int = Field(1, ge=0, le=1000, description="EC2 capacity only: minimum instances. Default: 1.")
    max_capacity: int = Field(4, ge=1, le=1000, description="EC2 capacity only: maximum instances. Default: 4.")
    eni_trunking: bool = Field(
        True, description="EC2 capacity only: turn on ECS's awsvpcTrunking account setting (the account's default "
                          "in the region), so each instance runs more awsvpc tasks than it has network interfaces "
                          "for. false: leave the account setting alone; validate counts tasks against the "
                          "instance's interfaces. Default: true.")
    kubernetes_version: str = Field("1.33", pattern=KUBERNETES_VERSION, examples=["1.34"],
                                    description="EKS only. Default: 1.33.")
    secrets_encryption: bool = Field(
        True, description="EKS only: envelope encryption of Kubernetes Secrets with a KMS key the cluster stack "
                          "creates. CloudFormation replaces a cluster whose encryption configuration changes: set "
                          "false on a cluster created without it to keep that cluster. Default: true.")

    @field_validator("capacity", mode="plain",
                     json_schema_input_type=CapacityName | Annotated[list[CapacityName], Field(
                         min_length=1, max_length=2, json_schema_extra={"uniqueItems": True})] | None)
    @classmethod
    def _capacity(cls, v: object) -> str | tuple[str, ...] | None:
        """One clear message for a name or a list of names."""
        if v is None or (isinstance(v, str) and v in CAPACITIES):
            return v
        if isinstance(v, (list, tuple)) and v and all(isinstance(x, str) and x in CAPACITIES for x in v):
            if len(set(v)) != len(v):
                raise PydanticCustomError("capacity_repeated", "capacity lists a capacity twice",
                                          {"allowed": "fargate, ec2, or [ec2, fargate] / [fargate, ec2]"})
            return tuple(v)
        raise PydanticCustomError("capacity", "capacity is fargate, ec2 or a list of both",
                                  {"allowed": "fargate, ec2, [ec2, fargate] or [fargate, ec2]"})

    @property
    def capacities(self) -> tuple[str, ...]:
        """The capacities an ECS cluster offers, the default first (nothing on EKS)."""
        if self.platform != "ecs":
            return ()
        if self.capacity is None:
            return ("fargate",)
        return (self.capacity,) if isinstance(self.capacity, str) else self.capacity

    @property
    def effective_instance_type(self) -> str:
        return self.instance_type or DEFAULT_INSTANCE_TYPE


DEFAULT_INSTANCE_TYPE = "m6i.large"


class _RegistryChoice:
    """A backend's name, checked against the registry when a spec is validated and listed from it when the schema
    is generated, so a backend registered in process is as valid as a built-in one. Refused values get pydantic's
    own ``literal_error``, as a ``Literal`` of the names would."""

    def __init__(self, which, describe=None) -> None:
        self.which = which  # () -> the backends allowed
        self.describe = describe  # (backends) -> the key's description

    def __get_pydantic_core_schema__(self, source, handler):
        return core_schema.no_info_plain_validator_function(self.validate)

    def __get_pydantic_json_schema__(self, schema, handler):
        backends = self.which()
        out = {"enum": [b.name for b in backends], "type": "string"}
        if self.describe is not None:
            out["description"] = self.describe(backends)
        return out

    def validate(self, value: object) -> str:
        names = [b.name for b in self.which()]
        if not isinstance(value, str) or value not in names:
            expected = " or ".join([", ".join(map(repr, names[:-1])), repr(names[-1])] if len(names) > 1
                                   else map(repr, names))
            raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})
        return value


def _describe_backends(backends) -> str:
    listed = [f"{b.name} ({b.summary})" for b in backends]
    text = ", ".join(listed[:-1]) + " or " + listed[-1] if len(listed) > 1 else listed[0]
    return (f"Mesh backend: {text}. Default: {registry.default().name}, so existing specs do not change.")


def _migration_model() -> type[SpecModel]:
    """``aws.mesh.migration``: its backends and their words come from the registry."""
    hosts = registry.titles(registry.hosts())
    targets = registry.migration_targets()
    moved = "; ".join(f"{b.name}: {b.migration_moved}" for b in sorted(targets, key=lambda b: b.name))
    return create_model(
        "Migration", __base__=SpecModel, __module__=__name__,
        __doc__=f"A zero-downtime move from {hosts} to a successor backend, written by the steps of "
                "``meshspec migrate``.",
        to=(Annotated[str, _RegistryChoice(registry.migration_targets)], Field(
            description=f"The backend being brought in beside {hosts}.")),
        moved=(list[DnsLabel], Field(
            default_factory=list,
            description=f"Services that already run their calls through the new backend ({moved}); the others "
                        f"still call through {hosts}. Default: none.")))


Migration = _migration_model()


def _mesh_model() -> type[SpecModel]:
    """``aws.mesh``: the backend, each backend's own settings (in listing order), the migration under way."""
    fields = {
        "name": (DnsLabel | None, Field(None, description="Mesh name. Default: the project name.")),
        "backend": (Annotated[str, _RegistryChoice(registry.all_backends, _describe_backends)],
                    Field(registry.default().name)),
    }
    for backend in registry.seal_settings():
        fields.update(backend.settings())
    hosts = registry.titles(registry.hosts())
    fields["migration"] = (Migration | None, Field(
        None, description=f"A move off {hosts} in progress (meshspec migrate): the new backend runs beside "
                          f"{hosts}. Default: no migration."))
    return create_model("Mesh", __base__=SpecModel, __module__=__name__,
                        __doc__="The service mesh that connects the AWS services.", **fields)


Mesh = _mesh_model()


CONNECTION_ARN = r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:[0-9]{12}:connection/[A-Za-z0-9-]+$"
# CodePipeline's names take at most 100 characters of A-Z a-z 0-9 . @ - _ (CodePipeline user guide, quotas); its
# CodeBuild projects' names, which start with it, no . or @ (CodeBuild user guide, quotas).
PIPELINE_NAME = r"^[A-Za-z0-9_-]{1,80}$"
REPOSITORY = r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"
BRANCH = r"^[^\s~^:?*\[\\]{1,255}$"
SPEC_PATH = r"^([A-Za-z0-9_][A-Za-z0-9._-]*/)*[A-Za-z0-9_][A-Za-z0-9._-]*\.ya?ml$"


class Pipeline(_Model):
    """A self-mutating AWS CodePipeline (CDK Pipelines) that synthesizes the spec with meshspec and deploys the
    stacks in waves (`meshspec help pipelines`)."""

    repository: Annotated[str, StringConstraints(pattern=REPOSITORY)] = Field(
        examples=["acme/infrastructure"], description="The repository that holds the spec, as owner/name.")
    connection_arn: Annotated[str, StringConstraints(pattern=CONNECTION_ARN)] = Field(
        examples=["arn:aws:codeconnections:eu-west-1:111122223333:connection/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"],
        description="The AWS CodeConnections (CodeStar Connections) connection to the repository's host "
                    "(GitHub, GitLab, Bitbucket), created and authorized once in the console.")
    branch: Annotated[str, StringConstraints(pattern=BRANCH)] = Field(
        "main", examples=["release"], description="The branch whose pushes start the pipeline. Default: main.")
    spec_path: Annotated[str, StringConstraints(pattern=SPEC_PATH)] = Field(
        "meshspec.yaml", examples=["infra/meshspec.yaml"],
        description="Where this spec lives in the repository, relative to its root. Default: meshspec.yaml.")
    name: Annotated[str, StringConstraints(pattern=PIPELINE_NAME)] | None = Field(
        None, examples=["shop-delivery"], description="The pipeline's name. Default: <project>-pipeline.")
    stacks_per_action: int = Field(
        10, ge=1, description="Stacks one deploy action deploys at once (`cdk deploy --concurrency`). Default: 10.")
    actions_per_wave: int = Field(
        10, description="Deploy actions that run in parallel in one wave (a CodePipeline stage: at most 50). "
                        "Default: 10.")
    canary: bool = Field(
        True, description="After a batch of service stacks is deployed, run `meshspec canary --hold` for each code "
                          "version whose traffic share grew since the last commit the pipeline deployed: judged at "
                          "the share the spec gives it and held there, or rolled back (on a mesh backend whose "
                          "weights meshspec moves; refused on the others). Default: true.")
    approval: bool = Field(
        False, description="A manual approval before the first deploy wave. Default: false.")

    @field_validator("actions_per_wave", mode="plain",
                     json_schema_input_type=Annotated[int, Field(ge=1, le=CODEPIPELINE_ACTIONS_PER_STAGE)])
    @classmethod
    def _actions_per_wave(cls, v: object) -> int:
        """CodePipeline's quota in the message, not pydantic's bare bound."""
        if isinstance(v, bool) or not isinstance(v, int):
            raise PydanticCustomError("actions_per_wave_type", "actionsPerWave is a whole number",
                                      {"allowed": f"1 to {CODEPIPELINE_ACTIONS_PER_STAGE}"})
        if not 1 <= v <= CODEPIPELINE_ACTIONS_PER_STAGE:
            raise PydanticCustomError(
                "actions_per_wave", "a wave is one CodePipeline stage, which runs at most {limit} actions "
                "(a fixed quota); more stacks make more waves", {"limit": CODEPIPELINE_ACTIONS_PER_STAGE,
                                                                "allowed": f"1 to {CODEPIPELINE_ACTIONS_PER_STAGE}"})
        return v


AGENTS = ("cloudwatch", "xray-daemon")
LANGUAGES = ("python", "java", "nodejs", "dotnet", "none")


def _percent(v: object, where: str, *, low: Decimal, high: Decimal, places: int, inclusive: bool = True) -> Decimal:
    """A percentage with at most ``places`` decimals in [low, high] (or (low, high) when not inclusive)."""
    allowed = f"{low}-{high}" + ("" if inclusive else ", both excluded") + f", at most {places} decimals"
    if isinstance(v, bool) or not isinstance(v, (int, float, Decimal)):
        raise PydanticCustomError("percent_type", "{where} must be a percentage", {"where": where, "allowed": allowed})
    d = Decimal(str(v))
    inside = low <= d <= high if inclusive else low < d < high
    if not inside or d != d.quantize(Decimal(1).scaleb(-places)):
        raise PydanticCustomError("percent_range", "{where} must be a percentage in " + allowed,
                                  {"where": where, "allowed": allowed})
    return d


class Observability(_Model):
    """How the AWS services are instrumented and traced (meshspec help observability)."""

    agent: Literal["cloudwatch", "xray-daemon"] = Field(
        "cloudwatch", description="cloudwatch: the CloudWatch agent and zero-code OpenTelemetry instrumentation "
                                  "(CloudWatch Application Signals); it also takes Envoy's X-Ray segments. "
                                  "xray-daemon: the legacy X-Ray daemon sidecar (end of support 2027-02-25), no "
                                  "instrumentation, no service-level SLOs. Default: cloudwatch.")
    sampling_percent: Decimal = Field(
        Decimal(5), json_schema_extra={"default": 5},
        description="Percent of requests whose traces are kept (Envoy and the applications decide alike; "
                    "Application Signals' metrics count every request). 0 to 100, at most 2 decimals. Default: 5.")

    @field_validator("sampling_percent", mode="plain",
                     json_schema_input_type=Annotated[float, Field(ge=0, le=100)])
    @classmethod
    def _sampling(cls, v: object) -> Decimal:
        return _percent(v, "samplingPercent", low=Decimal(0), high=Decimal(100), places=2)


class LatencyObjective(_Model):
    """``percentile`` percent of the requests answer within ``thresholdMs`` (p99 under 300 ms)."""

    threshold_ms: int = Field(ge=1, le=600_000, description="The latency, in milliseconds, requests must stay under.")
    percentile: Decimal = Field(
        Decimal(99), json_schema_extra={"default": 99, "examples": [99.9]},
        description="Percent of requests that must answer within thresholdMs, above 0 and below 100, at most 2 "
                    "decimals. Default: 99.")

    @field_validator("percentile", mode="plain", json_schema_input_type=Annotated[float, Field(gt=0, lt=100)])
    @classmethod
    def _percentile(cls, v: object) -> Decimal:
        return _percent(v, "percentile", low=Decimal(0), high=Decimal(100), places=2, inclusive=False)


class Slo(_Model):
    """Service level objectives, measured over a rolling window (meshspec help observability)."""

    availability: Decimal | None = Field(
        None, description="Percent of requests that must not fail with a 5xx (a fault), above 0 and below 100, "
                          "at most 3 decimals: 99.9. Default: no availability objective.")
    latency: LatencyObjective | None = Field(None, description="Default: no latency objective.")
    window_days: int = Field(28, ge=1, le=365, description="The rolling window the objectives hold over, in days. "
                                                           "Default: 28.")

    @field_validator("availability", mode="plain",
                     json_schema_input_type=Annotated[float, Field(gt=0, lt=100)] | None)
    @classmethod
    def _availability(cls, v: object) -> Decimal | None:
        return None if v is None else _percent(v, "availability", low=Decimal(0), high=Decimal(100), places=3,
                                               inclusive=False)


class Aws(_Model):
    region: Annotated[str, StringConstraints(pattern=AWS_REGION)] = Field(
        examples=["eu-west-1", "us-east-1"])
    account: Annotated[str, StringConstraints(pattern=AWS_ACCOUNT)] | None = Field(
        None, examples=["111122223333"], description="Default: environment-agnostic stacks (deploy to the CLI's account).")
    availability_zones: list[Annotated[str, StringConstraints(pattern=AWS_ZONE)]] | None = Field(
        None, min_length=2, max_length=6, examples=[["eu-west-1a", "eu-west-1b", "eu-west-1c"]],
        description="Default: <region>a and <region>b, so synth needs no credentials and no lookups.")
    clusters: list[Cluster] = Field(default_factory=list)
    mesh: Mesh = Field(default_factory=Mesh, description=f"Default: {registry.default().as_default}.")
    pipeline: Pipeline | None = Field(
        None, description="A CodePipeline that deploys the stacks in waves. Default: no pipeline (deploy with "
                          "`cdk deploy` or the GitHub workflow).")
    observability: Observability = Field(
        default_factory=Observability, description="Default: the CloudWatch agent with Application Signals, 5 % of "
                                                   "traces kept.")


class Gcp(_Model):
    project: Annotated[str, StringConstraints(pattern=GCP_PROJECT)]
    location: Annotated[str, StringConstraints(pattern=GCP_LOCATION)] = Field(
        examples=["europe-west", "us-central"], description="App Engine location, e.g. europe-west, us-central.")


class AppEngine(_Model):
    """Where a service runs when it runs on Google App Engine."""

    environment: Literal["standard", "flexible"]
    runtime: Annotated[str, StringConstraints(pattern=APPENGINE_RUNTIME)] = Field(
        examples=["python312", "nodejs22"])
    split_by: Literal["ip", "cookie", "random"] = Field(
        "cookie", description="How App Engine splits traffic between versions. Default: cookie (sticky per user).")
    migrate_traffic: bool = Field(
        False, description="Move traffic gradually (standard environment with warmup only). Default: false.")
    majors_as_services: bool = Field(
        False, description="Deploy each major as its own App Engine service (<service>-v1). Default: false.")
    default_service: bool = Field(
        False, description="Deploy as the app's `default` service; App Engine needs one before any other. "
                           "Default: false.")


# HTTP field and cookie names are RFC 9110 / RFC 6265 tokens. Lengths that differ per backend (App Mesh 50,
# VPC Lattice 40 characters for a header name) are checked at validate, with the backend's figure.
HEADER_NAME = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$"
COOKIE_NAME = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$"
# A header value: visible ASCII and inner spaces; a cookie value: RFC 6265 cookie-octets (no space, quote, comma,
# semicolon or backslash), as the cookie header carries it.
HEADER_VALUE = r"^[!-~]([ -~]{0,253}[!-~])?$"
COOKIE_VALUE = r"^[!#-+\--:<-\[\]-~]{1,255}$"
HeaderName = Annotated[str, StringConstraints(pattern=HEADER_NAME)]
CookieName = Annotated[str, StringConstraints(pattern=COOKIE_NAME)]


def _match_value(v: object) -> str:
    """A header or cookie value as YAML gives it: text, or a whole number (``value: 1``), never a float or bool."""
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise PydanticCustomError("cohort_value", "value must be text (quote it) or a whole number",
                                  {"allowed": "text, e.g. \"b\""})
    return str(v)


class Cohort(_Model):
    """Requests that match go to one code version, before the major's weights apply (an A/B cohort).

    Give ``header`` (with ``value``: the header equals it; without: the header is present) or ``cookie`` with
    ``value`` (the request carries that cookie with that value). Cohorts are matched in ``priority`` order;
    requests that match none follow the versions' ``traffic``.
    """

    name: DnsLabel = Field(description="Names the cohort's route (``<service>-<major>-<name>``) and the cohort in "
                                       "`meshspec traffic`.",
                           examples=["testers"])
    priority: int = Field(ge=1, le=100, description="Order among the major's cohorts: 1 is matched first. "
                                                    "Unique within the major.")
    header: HeaderName | None = Field(None, description="Match on this request header (case-insensitive name). "
                                                        "Default: no header match (give header or cookie).",
                                      examples=["x-cohort"])
    cookie: CookieName | None = Field(None, description="Match on this cookie; needs value. Default: no cookie "
                                                        "match (give header or cookie).", examples=["shop-ab"])
    value: str | None = Field(
        None, description="The header's or cookie's value, matched exactly. Default: for a header, the request "
                          "matches when the header is present, whatever its value; a cookie needs a value.",
        examples=["b"])
    version: VersionId = Field(description="The code version the cohort's requests go to.")

    @field_validator("value", mode="plain",
                     json_schema_input_type=Annotated[str, Field(min_length=1, max_length=255)] | int | None)
    @classmethod
    def _value(cls, v: object) -> str | None:
        return None if v is None else _match_value(v)

    @property
    def kind(self) -> Literal["header", "header-present", "cookie"]:
        if self.cookie is not None:
            return "cookie"
        return "header" if self.value is not None else "header-present"

    def describe(self) -> str:
        """How the cohort reads in messages: ``header x-cohort = b``, ``header x-beta present``, ``cookie ab = b``."""
        if self.cookie is not None:
            return f"cookie {self.cookie} = {self.value}"
        return f"header {self.header} = {self.value}" if self.value is not None else f"header {self.header} present"


class Sticky(_Model):
    """Keep each user in the version first drawn for them, as App Engine's cookie split does.

    The share of users each version gets is its ``traffic`` for the major: a user without the cookie follows
    the weights, the version that answers sets the cookie to its own name (MESHSPEC_VERSION), and a route per
    version taking traffic sends the cookie's holders back to it (see `meshspec help traffic`, "Sticky cohorts").
    """

    cookie: CookieName = Field(
        description="The cohort cookie that keeps a user in one version. On App Engine it is App Engine's own "
                    "GOOGAPPUID (the only cookie its split reads).", examples=["shop-ab"])


class Major(_Model):
    """One API major, served under its own path prefix."""

    path: Annotated[str, StringConstraints(pattern=MAJOR_PATH)] | None = Field(
        None, description="URL path prefix. Default: /<service>/<major>/.")
    contract: str = Field(description="The major's contract file, relative to the spec file: an OpenAPI 3.0/3.1 "
                                      "document or a JSON Schema 2020-12 contract (`meshspec help contracts`).")
    status: Literal["active", "deprecated", "retired"] = "active"
    sunset: dt.date | None = Field(None, examples=["2027-06-30"], description="Deprecated majors: the date after which using them is an error.")
    cohorts: list[Cohort] = Field(
        default_factory=list, max_length=100,
        description="Request attributes that send requests to one version before the weights apply (A/B tests), "
                    "in priority order. Default: none, every request follows the weights.")
    sticky: Sticky | None = Field(
        None, description="Keep each user in one version with a cohort cookie: the weights become a share of "
                          "users, not of requests. Default: none, each request draws a version.")
    slo: Slo | None = Field(
        None, description="Objectives of this major alone, measured on its own series (a path-routed major on a "
                          "backend whose Envoy access log meshspec counts per major). Default: none.")


def _share(v: object, where: str) -> Decimal:
    if isinstance(v, bool) or not isinstance(v, (int, float, Decimal)):
        raise PydanticCustomError("traffic_type", "{where} must be a percentage (a number from 0 to 100)",
                                  {"where": where, "allowed": "a number 0-100, or a mapping major: number"})
    d = Decimal(str(v))
    if d < 0 or d > 100:
        raise PydanticCustomError("traffic_range", "{where} must be between 0 and 100 percent",
                                  {"where": where, "allowed": "0-100"})
    return d


class Version(_Model):
    """One code version of a service, running beside the others."""

    name: VersionId
    image: str | None = Field(
        None, examples=["public.ecr.aws/shop/catalog:2026.11.2", "111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop/catalog:7"],
        description="Container image (AWS, App Engine flexible). An Amazon ECR image "
                          "(ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY:TAG) gets a pull grant for that "
                          "repository on ECS; public registries need none.")
    source: str | None = Field(None, examples=["gs://shop-builds/user-service/apple.zip"], description="Source URL (App Engine standard: a Cloud Storage zip).")
    traffic: Decimal | dict[str, Decimal] = Field(
        Decimal(0), json_schema_extra={"default": 0},
        description="Percent of traffic: one number for every major, or one per major. Default: 0.")

    @field_validator("traffic", mode="plain", json_schema_input_type=Share | dict[MajorName, Share])
    @classmethod
    def _traffic(cls, v: object) -> Decimal | dict[str, Decimal]:
        """One clear message instead of pydantic's one-per-union-member."""
        if isinstance(v, dict):
            out = {}
            for major, share in v.items():
                if not isinstance(major, str) or not re.match(MAJOR, major):
                    raise PydanticCustomError("traffic_major", "traffic key {major!r} is not a major name",
                                              {"major": major, "allowed": "v1, v2, …"})
                out[major] = _share(share, f"traffic.{major}")
            return out
        return _share(v, "traffic")


SecretRef = Annotated[str, StringConstraints(min_length=1, max_length=2048)]

USES_REF = r"^[a-z][a-z0-9-]*/v[1-9][0-9]*$"
OPERATION = r"^(GET|PUT|POST|DELETE|OPTIONS|HEAD|PATCH|TRACE) /\S*$"
UsesRef = Annotated[str, StringConstraints(pattern=USES_REF)]
OperationName = Annotated[str, StringConstraints(pattern=OPERATION)]


@dataclass(frozen=True)
class Use:
    """One ``uses`` entry: a major, and the operations the consumer calls (None: every one of them)."""

    ref: str
    operations: tuple[str, ...] | None = None


def _use(v: object) -> Use:
    """``svc/v1`` or ``{svc/v1: [GET /path, …]}``, each with one clear message (not one per union member)."""
    allowed = "<service>/<major> (e.g. user-service/v2), or <service>/<major>: [METHOD /path, …]"
    if isinstance(v, Use):
        return v
    if isinstance(v, str):
        if not re.match(USES_REF, v):
            raise PydanticCustomError("uses_ref", "'{given}' is not <service>/<major>", {"given": v, "allowed": allowed})
        return Use(v)
    if not isinstance(v, dict) or len(v) != 1:
        raise PydanticCustomError("uses_entry", "a uses entry is a major, or one major with the operations called",
                                  {"allowed": allowed})
    ref, ops = next(iter(v.items()))
    if not isinstance(ref, str) or not re.match(USES_REF, ref):
        raise PydanticCustomError("uses_ref", "'{given}' is not <service>/<major>", {"given": ref, "allowed": allowed})
    if not isinstance(ops, list) or not ops:
        raise PydanticCustomError("uses_operations", "{ref} needs a list of the operations called",
                                  {"ref": ref, "allowed": "a non-empty list of METHOD /path, e.g. [GET /users/{id}]"})
    for op in ops:
        if not isinstance(op, str) or not re.match(OPERATION, op):
            raise PydanticCustomError(
                "uses_operation", "'{op}' is not METHOD /path", {"op": op, "allowed": "METHOD /path with METHOD one "
                "of GET, PUT, POST, DELETE, OPTIONS, HEAD, PATCH, TRACE and the path relative to the major's prefix, "
                "e.g. GET /users/{id}"})
    return Use(ref, tuple(ops))


UseEntry = Annotated[
    Use,
    PlainValidator(_use, json_schema_input_type=UsesRef | Annotated[
        dict[UsesRef, Annotated[list[OperationName], Field(min_length=1)]], Field(min_length=1, max_length=1)]),
    PlainSerializer(lambda u: u.ref if u.operations is None else {u.ref: list(u.operations)}, return_type=Any),
]


class Service(_Model):
    cluster: DnsLabel | None = Field(None, description="The AWS cluster it runs on (give this or appengine).")
    appengine: AppEngine | None = Field(None, description="App Engine placement (give this or cluster).")
    capacity: CapacityName | None = Field(
        None, examples=["fargate", "ec2"],
        description="ECS clusters that offer both capacities only: which one the tasks run on (fargate or ec2). "
                    "Default: the cluster's first.")
    port: int = Field(8080, ge=1, le=65535)
    protocol: Literal["http", "http2", "grpc"] = "http"
    health_check: Annotated[str, StringConstraints(pattern=HEALTH_PATH)] = Field("/healthz", description="Default: /healthz.")
    cpu: int = Field(256, ge=1, le=196608, examples=[512, 1024],
                     description="CPU units, 1024 to a vCPU (Fargate: 256 to 16384; EC2: at least 256 and what the "
                                 "instance type offers; EKS: millicores). Default: 256.")
    memory: int = Field(512, ge=1, le=1048576, examples=[1024, 2048],
                        description="Memory in MiB (Fargate: the sizes it pairs with cpu; EC2: at least 512 and "
                                    "what the instance type offers). Default: 512.")
    desired_count: int = Field(2, ge=0, le=1000, description="Tasks or pods per code version. Default: 2.")
    env: dict[EnvName, EnvValue] = Field(default_factory=dict, examples=[{"LOG_LEVEL": "debug"}])
    secrets: dict[EnvName, SecretRef] = Field(
        default_factory=dict, examples=[{"DB_PASSWORD": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/db-AbCdEf"}],
        description="References only: a Secrets Manager or SSM parameter ARN, or a GCP Secret Manager name.")
    majors: dict[MajorName, Major] = Field(min_length=1)
    versions: list[Version] = Field(min_length=1)
    not_secret: list[EnvName] = Field(
        default_factory=list,
        description="env variables reviewed as no secret, though their name or value looks like one (a public "
                    "DSN, a test fixture's example key): validate no longer refuses their literal values. "
                    "Default: none.")
    use_entries: list[UseEntry] = Field(
        default_factory=list, alias="uses",
        description="Majors this service calls: <service>/<major> (every operation of it), or "
                    "<service>/<major>: [METHOD /path, ...] naming the operations it calls, paths relative to the "
                    "major's prefix (see `meshspec help contracts`). Default: none.")
    log_retention_days: RetentionDays | None = Field(
        None, description="CloudWatch Logs retention in days for this service's log group. "
                          "Default: defaults.logRetentionDays.")
    language: Literal["python", "java", "nodejs", "dotnet", "none"] = Field(
        "python", description="AWS services: the language meshspec instruments without code changes "
                              "(OpenTelemetry, CloudWatch Application Signals); none: the team instruments it "
                              "itself. Default: python.")
    slo: Slo | None = Field(None, description="The service's objectives (Application Signals). Default: none.")

    @property
    def uses(self) -> list[str]:
        """Every major this service calls, as ``<service>/<major>``, whichever form each entry has."""
        return [u.ref for u in self.use_entries]

    @property
    def calls(self) -> dict[str, tuple[str, ...] | None]:
        """``<service>/<major>`` → the operations called (``METHOD /path`` relative to the major's prefix), or
        None when the entry names only the major: it calls every operation. A major listed twice calls the union."""
        out: dict[str, tuple[str, ...] | None] = {}
        for u in self.use_entries:
            if u.operations is None or (u.ref in out and out[u.ref] is None):
                out[u.ref] = None
            else:
                out[u.ref] = tuple(dict.fromkeys((out.get(u.ref) or ()) + u.operations))
        return out


class CustomQuery(_Model):
    name: Annotated[str, StringConstraints(pattern=QUERY_NAME)]
    query: Annotated[str, StringConstraints(min_length=1, max_length=10000)]
    services: list[DnsLabel] | None = Field(None, description="Log groups to query. Default: every service's.")


BUILTIN_QUERIES = ("errors-by-service", "p99-latency-by-version", "trace-lookup")


class Queries(_Model):
    builtin: list[Literal["errors-by-service", "p99-latency-by-version", "trace-lookup"]] = Field(
        default_factory=lambda: list(BUILTIN_QUERIES), description="Default: all three built-in queries.")
    custom: list[CustomQuery] = Field(default_factory=list)


class Spec(_Model):
    """A whole meshspec document."""

    # Top-level x-* keys hold YAML anchors for merge keys (`<<: *common`); the loader drops them before these rules.
    model_config = ConfigDict(title="meshspec v1", json_schema_extra={"patternProperties": {"^x-": {}}})

    api_version: Literal["meshspec/v1"]
    project: DnsLabel
    defaults: Defaults = Field(default_factory=Defaults)
    aws: Aws | None = None
    gcp: Gcp | None = None
    services: dict[DnsLabel, Service] = Field(min_length=1)
    queries: Queries = Field(default_factory=Queries)

    # -- derived views used by every consumer ------------------------------------------------------------
    @property
    def mesh_name(self) -> str:
        return (self.aws.mesh.name if self.aws and self.aws.mesh.name else None) or self.project

    @property
    def backend(self) -> str:
        """The mesh backend the AWS services use (the registry's default unless the spec says otherwise)."""
        return self.aws.mesh.backend if self.aws else registry.default().name

    @property
    def observability(self) -> Observability:
        """How AWS services are instrumented (the CloudWatch agent unless the spec keeps the X-Ray daemon)."""
        return self.aws.observability if self.aws else Observability()

    def cluster(self, name: str) -> Cluster | None:
        return next((c for c in (self.aws.clusters if self.aws else []) if c.name == name), None)

    def aws_services(self) -> dict[str, Service]:
        return {n: s for n, s in self.services.items() if s.cluster is not None}

    def appengine_services(self) -> dict[str, Service]:
        return {n: s for n, s in self.services.items() if s.appengine is not None}


def objectives(service: Service, major: str | None = None) -> Slo | None:
    """The objectives that hold for ``major`` of ``service``: the major's own, else the service's."""
    own = service.majors[major].slo if major is not None and major in service.majors else None
    return own or service.slo


def major_path(service: str, major: str, m: Major) -> str:
    """The path prefix a major is served under."""
    return m.path or f"/{service}/{major}/"


def shares(service: Service, major: str) -> dict[str, Decimal]:
    """Each version's share of ``major``'s traffic, in percent (a number applies to every major)."""
    out = {}
    for v in service.versions:
        t = v.traffic
        out[v.name] = t.get(major, Decimal(0)) if isinstance(t, dict) else t
    return out


def capacity_of(spec: Spec, service: Service) -> str | None:
    """The capacity an ECS service's tasks run on (``fargate`` or ``ec2``): its own choice, else its cluster's
    first. None off ECS (EKS, App Engine) or on an unknown cluster."""
    cluster = spec.cluster(service.cluster) if service.cluster else None
    if cluster is None or cluster.platform != "ecs":
        return None
    return service.capacity or cluster.capacities[0]


def live_majors(service: Service) -> dict[str, Major]:
    """Majors that still take traffic (not retired)."""
    return {k: m for k, m in service.majors.items() if m.status != "retired"}


def metric_majors(spec: Spec, name: str) -> dict[str, str | None]:
    """The live majors whose per-version metrics the service's log group filters publish
    (``meshspec.constructs_lib.metrics.ServiceMetricFilters``), each with the path prefix its lines match (``None``: every
    line). Envoy's lines reach the log group on ECS (awslogs) and on EKS (the cluster's Fluent Bit router,
    ``meshspec.constructs_lib.eks.pod_logs``). Empty where the log tells no major apart or holds none: a backend
    whose sidecar writes no meshspec Envoy access log (``Backend.access_log_metrics``), a gRPC service with several
    majors (routed on a header the log omits).
    """
    svc = spec.services[name]
    cluster = spec.cluster(svc.cluster) if svc.cluster else None
    if cluster is None or not registry.primary(spec).access_log_metrics:
        return {}
    majors = live_majors(svc)
    if svc.protocol == "grpc":
        return {major: None for major in majors} if len(majors) == 1 else {}
    return {major: major_path(name, major, m) for major, m in majors.items()}


def slow_thresholds(spec: Spec, name: str) -> dict[str, int]:
    """The majors of ``metric_majors`` with a latency objective of their own, each with its threshold: their log
    group gets one more filter, counting the requests slower than it (the objective's bad requests)."""
    svc = spec.services[name]
    return {major: svc.majors[major].slo.latency.threshold_ms for major in metric_majors(spec, name)
            if svc.majors[major].slo is not None and svc.majors[major].slo.latency is not None}


def measured_objectives(spec: Spec, name: str) -> list[tuple[str | None, str]]:
    """``(major or None, kind)`` of every SLO the service's stack holds, in the order the stack builds them: its
    own (with the CloudWatch agent: Application Signals measures them), then its majors' measured on the mesh
    (``metric_majors``); kind ``availability`` before ``latency``."""
    svc = spec.services[name]
    own = [(None, svc.slo)] if svc.slo is not None and spec.observability.agent == "cloudwatch" else []
    measured = metric_majors(spec, name)
    majors = [(major, m.slo) for major, m in svc.majors.items() if m.slo is not None and major in measured]
    return [(major, kind) for major, slo in own + majors
            for kind, goal in (("availability", slo.availability), ("latency", slo.latency)) if goal is not None]
