"""The one interface every mesh backend implements: what the core (loader, checks, stacks, traffic, migrate,
plan) asks of a backend, and nothing else. A backend is one package under ``backends/<name>/`` (installed as
``meshspec.backends.<name>``) whose ``BACKEND`` is an instance of :class:`Backend`; the registry
(:mod:`meshspec.infra.mesh.registry`) finds it. The core never compares a backend's name: it calls these hooks.

Every hook the core may call is declared here with a default, so the core never probes for one: a backend
overrides what it has. Hooks that build CDK constructs import aws-cdk-lib lazily, inside the backend, so
``meshspec validate`` never loads it. Spec types are imported for annotations only, so this module imports
nothing of the spec (the model imports the registry to learn the backends' names and settings).

Capabilities a spec may ask for are named in ``features`` (e.g. ``lasting-weights``); a rule that finds the spec
asking for one its backend lacks names the backends that have it (:func:`meshspec.infra.mesh.registry.supporting`),
so a new capability (A/B cohort routes on headers, say) is one feature name, declared by the backends that can
express it, and one rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Mapping

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

    from meshspec.infra.spec.errors import Problems
    from meshspec.infra.spec.model import Cluster, Spec
    from meshspec.infra.spec.stack_quotas import ServiceModel
    from meshspec.infra.traffic.base import Context, TrafficBackend
    from meshspec.infra.traffic.figures import MetricsSource

Role = Literal["primary", "incoming"]
Join = Literal["same-tasks", "twin"]
"""How a backend comes in beside a migration's host: in the same tasks and pods as the host's sidecar (no sidecar
of its own), or as a second workload per service (it brings a proxy that cannot share a task)."""


@dataclass(frozen=True)
class CapabilityRow:
    """The backend's column of the capability table in docs/backends.md, one cell per row of ``ROWS``
    (:func:`meshspec.infra.mesh.docs.capability_table` renders it)."""

    cells: Mapping[str, str]

    ROWS: ClassVar[tuple[str, ...]] = (
        "Status", "Runs", "Weights between code versions", "meshspec uses", "Path match", "Header match",
        "Method match", "Retries", "Timeouts", "mTLS", "Who may call", "Tracing", "Metrics",
        "Runtime weight changes", "Limits meshspec checks")

    def __post_init__(self) -> None:
        if list(self.cells) != list(self.ROWS):
            raise ValueError(f"a capability row has the cells {list(self.ROWS)}, in that order; got {list(self.cells)}")


class Backend:
    """A mesh backend as the core sees it. Subclass it in ``backends/<name>/__init__.py`` and set ``BACKEND``.

    Class attributes say who the backend is and what it can express; methods are the hooks, each with a
    default that does nothing (or says the backend lacks the capability), so a small backend overrides few.
    """

    # -- who it is --------------------------------------------------------------------------------------
    name: ClassVar[str]
    """The spec's name for it (``aws.mesh.backend``), a DNS label."""
    title: ClassVar[str]
    """How messages and docs name it (``VPC Lattice``)."""
    summary: ClassVar[str]
    """What the spec's ``backend`` key says of it, in parentheses after the name."""
    position: ClassVar[int] = 100
    """Where it is listed (the spec's allowed values, the docs' table); built-ins take 10, 20, 30."""
    default: ClassVar[bool] = False
    """The backend a spec without ``aws.mesh.backend`` gets; exactly one has it."""
    as_default: ClassVar[str] = ""
    """For the default backend: what a spec without an ``aws.mesh`` section gets (``an App Mesh mesh named after
    the project``)."""
    end_of_support: ClassVar[str | None] = None
    """The date AWS ends support (ISO), if announced: such a backend is never proposed as an alternative."""

    # -- what it can express ----------------------------------------------------------------------------
    platforms: ClassVar[frozenset[str]] = frozenset({"ecs", "eks"})
    """Cluster platforms whose services it connects (``aws.clusters[].platform``)."""
    features: ClassVar[frozenset[str]] = frozenset()
    """Capabilities beyond the basics (``lasting-weights``, ``per-major-versions``, ``egress-filter``, …). A/B
    cohorts (:mod:`meshspec.infra.spec.cohorts`) ask for ``header-match`` (a header's value),
    ``header-present-match`` and ``cookie-match``; a backend declaring one builds the cohort's route itself."""
    weight_rule: ClassVar[str] = "weights are whole percentages"
    """Why a share with decimals is refused (weights are whole percentages on every AWS backend)."""
    access_log_metrics: ClassVar[bool] = False
    """Its sidecar writes meshspec's Envoy access log, which metric filters turn into per-version series
    (meshspec.constructs_lib.metrics); without it a service's log group has no such lines."""
    single_revision: ClassVar[bool] = False
    """It runs one revision per service (one ECS service, the version that takes the traffic), not one per code
    version."""
    hosts_migration: ClassVar[bool] = False
    """A spec on this backend can move off it with ``meshspec migrate`` (``aws.mesh.migration``)."""
    joins: ClassVar[Join | None] = None
    """How it comes in beside a migration's host; None: ``meshspec migrate --to`` does not offer it."""
    migration_moved: ClassVar[str] = ""
    """With ``joins``: what listing a service in ``aws.mesh.migration.moved`` does (the key's description)."""

    def capability_row(self) -> CapabilityRow | None:
        """Its column of the capability table (docs/backends.md is checked against it). Default: none, the
        backend is left out of the table."""
        return None

    # -- the spec ---------------------------------------------------------------------------------------
    def settings(self) -> dict[str, tuple[Any, "FieldInfo"]]:
        """Keys it adds under ``aws.mesh`` (field name → (type, pydantic Field)), in the order the schema lists
        them. Read once, when the spec model is built. Default: none."""
        return {}

    def check_unused(self, spec: "Spec", problems: "Problems") -> None:
        """Report its settings when the spec sets them but does not use this backend. Default: nothing."""

    def check_placement(self, spec: "Spec", problems: "Problems") -> None:
        """What it needs of the account and the clusters, when the spec's services run on it now (its primary
        backend); checked with the clusters, before each service's rules. Default: nothing."""

    def check(self, spec: "Spec", problems: "Problems", *, role: Role, complete: bool) -> None:
        """What it cannot express or would refuse, when it runs the spec (``primary``) or comes in beside the
        host during a migration (``incoming``). ``complete=False``: services that failed the field rules are
        left out, so totals over all services are skipped. Default: nothing."""

    def check_quotas(self, spec: "Spec", problems: "Problems") -> None:
        """Its quotas counted over the whole (complete) spec. Default: nothing."""

    def stack_model(self, platform: str) -> "ServiceModel | None":
        """What one service puts in its stack on ``platform`` (measured; see stack_quotas). Default: None, the
        default backend's model stands in."""
        return None

    def shared_stack_size(self) -> tuple[int, int, int] | None:
        """(resources, outputs, bytes) of the shared stack when it carries this backend. Default: None, the
        default backend's figures stand in."""
        return None

    shared_log_groups: ClassVar[int] = 0
    """Log groups it adds to the shared stack (each names ``defaults.logKmsKey`` when set). Default: none."""

    def cluster_stack_extra(self, spec: "Spec", cluster: "Cluster") -> tuple[int, int]:
        """(resources, bytes) it adds to a cluster's stack (:meth:`add_to_cluster`). Default: none."""
        return 0, 0

    def endpoint(self, spec: "Spec", target: str) -> str:
        """Where the AWS service ``target`` answers through this backend (``MESHSPEC_UPSTREAM_<SERVICE>``)."""
        from meshspec.infra import naming

        return naming.mesh_endpoint(spec.project, target, spec.services[target].port)

    def synth_warnings(self, spec: "Spec", service: str) -> list[tuple[str, str]]:
        """(id, text) warnings synth adds to one service. Default: none."""
        return []

    # -- synth (aws-cdk-lib, imported by the backend inside these) ---------------------------------------
    def add_shared(self, stack: Any, spec: "Spec", vpc: Any, vpc_cidr: str) -> Any:
        """Add what the services share (a mesh, a namespace, a service network) to the shared stack (``vpc``
        and its literal ``vpc_cidr``; ``stack.log_key_arn``: the KMS key every log group it creates names, or
        None); return what :meth:`mesh_backend` needs of it. Default: nothing."""
        return None

    def validation_acknowledgements(self) -> list[tuple[str, str]]:
        """(id, reason) of CDK validation findings to acknowledge when its shared part exists. Default: none."""
        return []

    def cluster_facts(self, spec: "Spec", cluster: "Cluster") -> dict[str, Any]:
        """What :meth:`add_to_cluster` needs to know of the services on ``cluster`` (read from the whole spec):
        a cluster stack's view holds no services, so meshspec.infra.sharding keeps these facts in it, and a change
        to them re-synthesizes the cluster's stack. Keys are the backend's own. Default: none."""
        return {}

    def add_to_cluster(self, stack: Any, spec: "Spec", cluster: "Cluster", eks: Any,
                       facts: Mapping[str, Any]) -> None:
        """Add to a cluster's stack (``spec``: the stack's view, without services; ``eks``: the EKS cluster
        construct, None on ECS; ``facts``: what :meth:`cluster_facts` of the active backends said). Default:
        nothing."""

    def mesh_backend(self, spec: "Spec", scope: Any, *, shared: Any, vpc: Any, namespace: Any,
                     twin: bool = False) -> Any:
        """The :class:`meshspec.constructs_lib.mesh.base.MeshBackend` a services stack adds its services to.
        ``shared``: what :meth:`add_shared` returned; ``twin``: the second workload of a migration (see
        ``joins``)."""
        raise NotImplementedError(f"backend {self.name} builds no mesh")

    def registrar_part(self) -> Any:
        """How EKS pods register themselves with it (a ``meshspec.constructs_lib.eks.registration.RegistrarPart``),
        or None when pods need no registration. Every installed backend's part is in the registrar's script, so
        the script is the same whichever backend a pod uses. Default: None."""
        return None

    # -- plan -------------------------------------------------------------------------------------------
    def route_name(self, service: str, major: str) -> str | None:
        """The name of the resource that carries one major's weights (shown by ``meshspec plan``). Default: None,
        the backend keeps no weights."""
        return None

    def plan_routes(self, templates: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[str | None, dict[str, int]]]:
        """Route name → (match, {version resource name: weight}), read from synthesized templates. Default:
        none."""
        return {}

    # -- runtime traffic --------------------------------------------------------------------------------
    def traffic(self, spec: "Spec", service: str, ctx: "Context") -> "TrafficBackend":
        """The traffic adapter that reads and writes ``service``'s weights; a UserError saying why when the
        backend keeps none."""
        from meshspec.infra.errors import UserError

        raise UserError(f"{service} runs on {self.title}, which keeps no weights meshspec can shift")

    def traffic_permissions(self, spec: "Spec") -> list[tuple[tuple[str, ...], str | None]]:
        """What the traffic adapter calls, for a role that runs `meshspec canary` (aws.pipeline's deploy actions):
        (IAM actions, the resource: an ARN of this account and Region without its ``arn:PARTITION:SERVICE:REGION:
        ACCOUNT:`` head, written ``SERVICE:RESOURCE``; None for calls that take no resource-level permissions).
        Default: none (no weights to move)."""
        return []

    def metrics_source(self, spec: "Spec", service: str, ctx: "Context") -> "MetricsSource | None":
        """Where the canary and ``traffic compare`` read per-version figures. Default: None, the series the
        service log group's metric filters publish."""
        return None

    # -- migration ----------------------------------------------------------------------------------------
    def migration_host(self) -> Any:
        """With ``hosts_migration``: the host's steps (a ``meshspec.infra.migrate.Host``)."""
        raise NotImplementedError(f"backend {self.name} hosts no migration")

    def migration_target(self) -> Any:
        """With ``joins``: the steps that bring it in (a ``meshspec.infra.migrate.Target``)."""
        raise NotImplementedError(f"backend {self.name} cannot come in beside another")

    def __repr__(self) -> str:
        return f"<mesh backend {self.name}>"
