"""CloudFormation's quotas, estimated from the spec before anything is synthesized.

Every stack of ``meshspec.infra.sharding.layout`` gets an estimate of its resources, outputs, parameters and template
bytes (the file as CDK writes it, which is what CloudFormation receives); ``check_cloudformation`` reports a
stack over a quota at the part of the spec that makes it big. The constants are measured on the constructs
(``benchmarks/calibrate_sizes.py``), and tests/test_stack_quotas.py compares every estimate with the
synthesized templates of the example, its EC2-capacity variant and a generated spec on each backend: resources,
outputs and parameters exactly, bytes within 15 %. Change a construct, rerun both.

Quotas: docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from meshspec.constructs_lib.metric_names import FILTERS_PER_MAJOR
from meshspec.infra.mesh import registry

from . import cohorts, quotas as q
from .errors import Problems
from .model import Spec, live_majors, measured_objectives, metric_majors, slow_thresholds

PER_QUERY = 1  # a saved query (built-in, or custom on this service alone)


@dataclass(frozen=True)
class ServiceModel:
    """What one service puts in its stack on one backend and platform (measured: benchmarks/calibrate_sizes.py,
    with a service and a project named with 3 characters, one version, one major and the built-in queries)."""
    per_service: int  # resources whatever the versions and majors: log group, dashboard, mesh or Lattice service…
    per_version: int  # resources per code version (ECS: task definition, service, roles, security group…)
    per_major: int  # resources per live major (an App Mesh route, a Lattice listener rule)
    bytes_service: int
    bytes_version: int
    bytes_major: int
    env_per_version: bool | None  # env and secrets: per version's task definition, once (True/False), or not in
    # the template (None: EKS pods get them from the Kubernetes manifests; a secret's ARN in the pod role's policy,
    # ~100 bytes, is left out)


# Each mesh backend measures its own ServiceModel per platform (``Backend.stack_model``), with the CloudWatch agent
# and ADOT's init container in every task (Application Signals).
BYTES_BUILTIN_QUERY = 805  # on average: trace-lookup carries its query parameter
# An objective (meshspec.constructs_lib.slo): the SLO and its two burn-rate alarms, and its alarms on the dashboard
PER_OBJECTIVE, BYTES_OBJECTIVE = 3, 4_885
BYTES_SLOW_FILTER = 700  # a major's fourth metric filter, with a latency objective of its own
# A dependency's row on the dashboard (meshspec.constructs_lib.dashboard.dependency_rows), the rows' heading, and
# each of the dependency's alarms named in it; beyond meshspec.infra.dependencies.DASHBOARD_ROWS only its name
BYTES_DEPENDENCY_ROW, BYTES_DEPENDENCY_HEADING, BYTES_DEPENDENCY_ALARM = 1_265, 150, 120
# Per major with metric filters (meshspec.infra.spec.model.metric_majors: services on App Mesh), its FILTERS_PER_MAJOR
# AWS::Logs::MetricFilter (measured as the "+1 major" delta minus bytes_major), and how often the name appears in
# them (patterns, default path prefixes, logical ids, the log group's Ref).
BYTES_METRIC_FILTERS = 2_020
NAME_USES_METRIC_FILTERS = 12
BYTES_QUERY = 310  # plus the query text
BYTES_COHORT_MATCH = 150  # an A/B cohort's header match on top of a major's route (plus its header and value)
BYTES_ENV = 60  # per variable (per task definition), plus name and value
BYTES_SECRET = 310  # per secret (container and execution role policy), plus name and reference
BYTES_USE = 170  # per backend per version (virtual node backends)
NAME_USES_SERVICE, NAME_USES_VERSION = 30, 42  # how often the service name appears
PROJECT_USES = 27
PARAMETERS = 1  # BootstrapVersion, in every stack CDK's default synthesizer writes
CDK_METADATA = 1  # AWS::CDK::Metadata (version reporting, on as under the CDK CLI): a resource in every stack
# The other stacks (stacks/shared.py, stacks/cluster.py): fixed contents; the shared stack's with a backend's parts
# come from the backend (``Backend.shared_stack_size``), plus Application Signals' discovery when the CloudWatch
# agent runs (SHARED_DISCOVERY).
SHARED_DISCOVERY = (1, 180)
SHARED_NO_MESH = (26, 7, 14_500)  # no AWS service yet: no mesh or service network
# (resources, outputs, bytes, parameters); EC2 capacity adds the SSM parameter of the ECS-optimized AMI, ENI
# trunking its custom resource (a Lambda function and its role)
CLUSTER = {("ecs", "fargate"): (2, 1, 2_070, 1), ("ecs", "ec2"): (8, 1, 7_750, 2),
           ("ecs", "ec2", "trunking"): (12, 1, 11_000, 2), ("eks", None): (13, 1, 10_400, 1)}


def cluster_kind(c) -> tuple:
    """The row of :data:`CLUSTER` a cluster's stack is measured by (with or without Fargate: the same size)."""
    if c.platform != "ecs":
        return ("eks", None)
    if "ec2" not in c.capacities:
        return ("ecs", "fargate")
    return ("ecs", "ec2", "trunking") if c.eni_trunking else ("ecs", "ec2")
# clusters[].secretsEncryption (on by default): an EKS cluster's KMS key and its encryption configuration
EKS_SECRETS_KEY = (1, 900)
# defaults.logKmsKey: create adds the key and its export to the shared stack; every log group then names the key
LOG_KEY_CREATED = (1, 1, 1_600)  # resources, outputs, bytes
LOG_KEY_PER_GROUP_BYTES = 130
QUERIES_STACK_BYTES, BYTES_QUERY_LOG_GROUP = 1_200, 12  # plus per query: BYTES_QUERY, text, and per log group its name
# aws.pipeline's stack (stacks/pipeline.py), measured on pipelines of 2 to 250 services (tests/test_pipeline_stack.py
# compares): its fixed part (artifact bucket and policy, the pipeline, its roles and policies, the synth and
# self-mutation projects, CDKMetadata), then per action one resource (a deploy action's CodeBuild project) and its
# bytes; per stack name character 1 byte (the deploy commands); with canaries the synth's plan step, per service
# action its canary commands and 1.6 bytes per character of its services' names. The roles are shared by all
# actions, so the policies do not grow with them. One action per stack stops near 480 stacks on the 500 resources.
PIPELINE_RESOURCES, PIPELINE_BYTES, PIPELINE_BYTES_ACTION = 16, 20_700, 1_840
PIPELINE_BYTES_CANARY, PIPELINE_BYTES_CANARY_ACTION = 2_200, 1_010


@dataclass
class StackEstimate:
    stack: str
    resources: int = CDK_METADATA
    outputs: int = 0
    parameters: int = PARAMETERS
    template_bytes: int = 0
    # what makes it big: spec path → (resources, bytes), so a violation can name the part to change
    parts: dict[tuple, tuple[int, int]] = field(default_factory=dict)

    def add(self, path: tuple, resources: int, nbytes: int) -> None:
        r, b = self.parts.get(path, (0, 0))
        self.parts[path] = (r + resources, b + nbytes)
        self.resources += resources
        self.template_bytes += nbytes


def model_for(spec: Spec, platform: str) -> ServiceModel:
    """The measured model of a service on this spec's backend (a backend that runs no services on ``platform``,
    which validate refuses, or has no measurement gets the default backend's)."""
    return registry.primary(spec).stack_model(platform) or registry.default().stack_model(platform)


def service_estimate(spec: Spec, name: str, stack: str, aws: frozenset[str] | None = None,
                     beneath: "Beneath | None" = None) -> StackEstimate:
    """``aws``: the names of the AWS services, ``beneath``: what the dependency rows need (both computed once by
    ``estimate``). Default: from the spec."""
    svc = spec.services[name]
    aws = frozenset(spec.aws_services()) if aws is None else aws
    model = model_for(spec, spec.cluster(svc.cluster).platform)
    e = StackEstimate(stack)
    base = ("services", name)
    v = len(svc.versions)
    majors = len(live_majors(svc))
    n_extra = len(name) - 3
    e.add(base, model.per_service, model.bytes_service + n_extra * NAME_USES_SERVICE
          + (len(spec.project) - 3) * PROJECT_USES
          + (LOG_KEY_PER_GROUP_BYTES if spec.defaults.log_kms_key else 0))
    e.add(base + ("versions",), v * model.per_version,
          v * (model.bytes_version + n_extra * NAME_USES_VERSION)
          + sum(len(x.name) + len(x.image or "") for x in svc.versions))
    e.add(base + ("majors",), majors * model.per_major, majors * model.bytes_major)
    # A/B cohorts: a route or rule each, as a major's, with its header match; the sticky cookie's name in each task
    ab = [r for m in live_majors(svc) for r in cohorts.routes(svc, m)]
    e.add(base + ("majors",), len(ab) * model.per_major,
          sum(model.bytes_major + BYTES_COHORT_MATCH + len(r.field) + len(r.value or "") for r in ab))
    if model.env_per_version is not None:
        sticky = cohorts.sticky_cookies(svc)
        e.add(base + ("majors",), 0, (v if model.env_per_version else 1)
              * sum(BYTES_ENV + len(cohorts.cookie_variable(m)) + len(c) for m, c in sticky.items()))
    filtered = len(metric_majors(spec, name))
    e.add(base + ("majors",), filtered * FILTERS_PER_MAJOR,
          filtered * (BYTES_METRIC_FILTERS + n_extra * NAME_USES_METRIC_FILTERS))
    slow = len(slow_thresholds(spec, name))
    e.add(base + ("majors",), slow, slow * BYTES_SLOW_FILTER)
    own = objective_count(spec, name)
    e.add(base + ("slo",), own * PER_OBJECTIVE, own * BYTES_OBJECTIVE)
    e.add(base + ("uses",), 0, dependency_bytes(spec, name, beneath))
    builtin = len(spec.queries.builtin)
    e.add(("queries", "builtin"), builtin * PER_QUERY, builtin * BYTES_BUILTIN_QUERY)
    mine = [cq for cq in spec.queries.custom if cq.services == [name]]
    e.add(("queries", "custom"), len(mine) * PER_QUERY, sum(BYTES_QUERY + len(cq.query) for cq in mine))
    if model.env_per_version is not None:
        copies = v if model.env_per_version else 1
        e.add(base + ("env",), 0, copies * sum(BYTES_ENV + len(k) + len(str(x)) for k, x in svc.env.items()))
        e.add(base + ("secrets",), 0, copies * sum(BYTES_SECRET + len(k) + len(r) for k, r in svc.secrets.items()))
    backends = {u.split("/")[0] for u in svc.uses if u.split("/")[0] in aws}
    e.add(base + ("uses",), 0, v * sum(BYTES_USE + len(b) for b in backends))
    if model.env_per_version is not None:  # MESHSPEC_UPSTREAM_<SERVICE> per used service, in each task definition
        copies = v if model.env_per_version else 1
        e.add(base + ("uses",), 0, copies * sum(BYTES_ENV + 2 * len(b) + len(spec.project) + 40 for b in backends))
    return e


def objective_count(spec: Spec, name: str) -> int:
    """The SLOs of a service's stack (``meshspec.infra.spec.model.measured_objectives``)."""
    return len(measured_objectives(spec, name))


@dataclass(frozen=True)
class Beneath:
    """What the dashboards' dependency rows need, worked out once for the spec: how many services each one
    depends on (:func:`meshspec.infra.dependencies.reach_counts`), and a row's and a name's average bytes."""

    counts: dict[str, int]
    row: float
    name: float

    @classmethod
    def of(cls, spec: Spec) -> "Beneath":
        from meshspec.infra.dependencies import reach_counts, uses_graph  # they import this package's model

        names = list(spec.services)
        extra = [4 * len(n) + 2 * objective_count(spec, n) * BYTES_DEPENDENCY_ALARM if spec.services[n].cluster
                 else 4 * len(n) for n in names]
        return cls(reach_counts(uses_graph(spec)), sum(extra) / len(extra), sum(map(len, names)) / len(names))


def dependency_bytes(spec: Spec, name: str, beneath: Beneath | None = None) -> int:
    """The dashboard's rows for the services beneath ``name``: a row each up to ``DASHBOARD_ROWS`` (text,
    graphs and alarms, on average), then a name each. Estimated from counts, not from each service's chain, so a
    thousand services in one cycle cost milliseconds."""
    from meshspec.infra.dependencies import DASHBOARD_ROWS

    beneath = beneath or Beneath.of(spec)
    k = beneath.counts.get(name, 0)
    if not k:
        return 0
    rows = min(k, DASHBOARD_ROWS)
    return int(BYTES_DEPENDENCY_HEADING + rows * (BYTES_DEPENDENCY_ROW + beneath.row + len(name))
               + (k - rows) * (beneath.name + 2))


def estimate(spec: Spec) -> list[StackEstimate]:
    """An estimate per stack of ``meshspec.infra.sharding.layout``, in the same order."""
    from meshspec.infra import sharding  # meshspec.infra.sharding imports this package's model

    out = []
    aws = frozenset(spec.aws_services())
    beneath = Beneath.of(spec)
    for s in sharding.layout(spec):
        if s.kind == "service":
            if spec.cluster(s.cluster) is not None:  # an unknown cluster is reported by check_placement
                out.append(service_estimate(spec, s.services[0], s.name, aws, beneath))
        elif s.kind == "shared":
            r, o, b = ((registry.primary(spec).shared_stack_size() or registry.default().shared_stack_size())
                       if spec.aws_services() else SHARED_NO_MESH)
            if spec.aws_services() and spec.observability.agent == "cloudwatch":
                r, b = r + SHARED_DISCOVERY[0], b + SHARED_DISCOVERY[1]
            e = StackEstimate(s.name, outputs=o)
            e.add(("aws",), r, b)
            if spec.defaults.log_kms_key == "create":
                kr, ko, kb = LOG_KEY_CREATED
                e.outputs += ko
                e.add(("defaults", "logKmsKey"), kr, kb)
            if spec.defaults.log_kms_key:  # the flow log's group, and those the backends add (Backend.shared_log_groups)
                groups = 1 + sum(b.shared_log_groups for b in registry.active(spec))
                e.add(("defaults", "logKmsKey"), 0, groups * LOG_KEY_PER_GROUP_BYTES)
            out.append(e)
        elif s.kind == "cluster":
            c = spec.cluster(s.cluster)
            r, o, b, params = CLUSTER[cluster_kind(c)]
            e = StackEstimate(s.name, outputs=o, parameters=params)
            e.add(("aws", "clusters"), r, b)
            if c.platform == "eks" and c.secrets_encryption:
                e.add(("aws", "clusters"), *EKS_SECRETS_KEY)
            if c.platform == "eks" and spec.defaults.log_kms_key:  # the router's fallback log group
                e.add(("defaults", "logKmsKey"), 0, LOG_KEY_PER_GROUP_BYTES)
            for backend in registry.active(spec):  # what each adds to the cluster's stack (Backend.add_to_cluster)
                extra, nbytes = backend.cluster_stack_extra(spec, c)
                if extra or nbytes:
                    e.add(("aws", "clusters"), extra, nbytes)
            out.append(e)
        elif s.kind == "pipeline":
            out.append(pipeline_estimate(spec, s.name))
        else:
            e = StackEstimate(s.name)
            e.add(("queries", "custom"), 0, QUERIES_STACK_BYTES)
            for i, cq in enumerate(spec.queries.custom):
                if cq in sharding.shared_queries(spec):
                    groups = sharding.query_members(spec, cq)
                    e.add(("queries", "custom", i), PER_QUERY, BYTES_QUERY + len(cq.query) + sum(
                        BYTES_QUERY_LOG_GROUP + len(spec.project) + len(g) for g in groups))
            out.append(e)
    return out


def pipeline_estimate(spec: Spec, stack: str) -> StackEstimate:
    """aws.pipeline's stack: its size grows with its actions (infra/waves.py), which stacksPerAction sets."""
    from meshspec.infra.waves import pipeline_shape

    shape = pipeline_shape(spec)
    from meshspec.infra.mesh import registry

    # as stacks/pipeline.py decides: on a backend whose weights meshspec moves
    canary = spec.aws.pipeline.canary and "lasting-weights" in registry.primary(spec).features
    e = StackEstimate(stack)
    e.add(("aws", "pipeline"), PIPELINE_RESOURCES, PIPELINE_BYTES + (PIPELINE_BYTES_CANARY if canary else 0))
    names = sum(len(n) + 1 for w in shape.waves for n in w.stacks)
    service_actions = [b for w in shape.waves for b in w.batches if b.services] if canary else []
    e.add(("aws", "pipeline", "stacksPerAction"), shape.actions, shape.actions * PIPELINE_BYTES_ACTION + names
          + len(service_actions) * PIPELINE_BYTES_CANARY_ACTION
          + int(1.6 * sum(len(m) + 3 for b in service_actions for m in b.services)))
    return e


def check_cloudformation(spec: Spec, p: Problems) -> None:
    """Every stack under CloudFormation's per-stack quotas, the stack count and stack names under theirs."""
    if spec.aws is None:
        return
    estimates = estimate(spec)
    if len(estimates) > q.CFN_STACKS_PER_REGION:
        p.add(("services",), f"the app would have {len(estimates)} stacks (one per AWS service, plus shared, "
              f"cluster and queries stacks); CloudFormation allows {q.CFN_STACKS_PER_REGION} per account and region",
              "quota-cloudformation", given=len(estimates), allowed=f"at most {q.CFN_STACKS_PER_REGION}",
              hint="ask AWS to raise the stack quota, or split the services over several specs and accounts")
    for e in estimates:
        if len(e.stack) > q.CFN_STACK_NAME_LENGTH:
            path = next(iter(e.parts))
            p.add(path, f"the stack name {e.stack} is {len(e.stack)} characters; CloudFormation allows "
                  f"{q.CFN_STACK_NAME_LENGTH}", "quota-cloudformation", given=e.stack,
                  allowed=f"at most {q.CFN_STACK_NAME_LENGTH} characters", hint="shorten the project or service name")
        for what, value, limit, idx in (("resources", e.resources, q.CFN_RESOURCES_PER_STACK, 0),
                                        ("bytes of template", e.template_bytes, q.CFN_TEMPLATE_BYTES, 1)):
            if value <= limit:
                continue
            path, share = max(e.parts.items(), key=lambda kv: kv[1][idx])
            p.add(path, f"stack {e.stack} would hold about {value} {what}, {share[idx]} of them from here; "
                  f"CloudFormation allows {limit} per stack", "quota-cloudformation", given=value,
                  allowed=f"at most {limit}", hint=_hint(path))
        for what, value, limit in (("outputs", e.outputs, q.CFN_OUTPUTS_PER_STACK),
                                   ("parameters", e.parameters, q.CFN_PARAMETERS_PER_STACK)):
            if value > limit:  # fixed by meshspec's stacks; reported should a construct ever grow them
                p.add(("aws",), f"stack {e.stack} would have {value} {what}; CloudFormation allows {limit}",
                      "quota-cloudformation", given=value, allowed=f"at most {limit}")


def _hint(path: tuple) -> str:
    last = path[-1] if path else None
    if path == ("queries", "custom"):
        return "a service's own saved queries live in its stack: merge them into fewer queries"
    if path[:2] == ("queries", "custom"):
        return "shorten the saved queries, or give each one the services it reads (services: [...])"
    return {
        "versions": "remove code versions that take no traffic",
        "env": "move large values out of env (a parameter or a file the service reads at start)",
        "secrets": "group secrets into one Secrets Manager secret with several keys",
        "majors": "retire majors nobody uses",
        "uses": "drop uses the service no longer calls",
        "stacksPerAction": "deploy more stacks per action (aws.pipeline.stacksPerAction): fewer actions, fewer projects",
        "slo": "keep the objectives that matter most (each is an SLO and two alarms)",
    }.get(last, "split the service into smaller services")


def service_sizes(spec: Spec) -> dict[str, StackEstimate]:
    """Estimates by service name (for the plan and the docs)."""
    return {s: service_estimate(spec, s, "") for s in spec.aws_services()}
