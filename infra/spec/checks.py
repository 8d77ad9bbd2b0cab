"""Rules that relate several parts of a spec. Each check is a pure function that appends to ``Problems``.

They run only on a spec that passed the model's field rules, and all of them run, so one ``validate``
reports every problem at once.
"""
from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path as FsPath

from meshspec.infra.mesh import registry

from .. import naming
from . import cohorts, quotas as q
from . import secrets
from .secrets import SECRET_NAME  # noqa: F401 - tests read it here
from .errors import Described as D, Problems
from .ec2 import check_ec2_capacity, check_instance_type, check_service_capacity
from .model import Service, Spec, capacity_of, live_majors, major_path, metric_majors, shares
from .stack_quotas import check_cloudformation

# Fargate's valid CPU/memory pairs (docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html).
FARGATE_MEMORY: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}

AWS_SECRET_REF = re.compile(
    r"^arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+"
    r"(:[A-Za-z_][A-Za-z0-9_]{0,127}(::)?)?"  # one JSON key, ECS's ARN:key[::] (constructs_lib/secret_refs.py)
    r"|ssm:[a-z0-9-]+:[0-9]{12}:parameter/[A-Za-z0-9/_.-]+)$")
APPENGINE_RESERVED_VERSIONS = ("default", "latest")
# Service keys App Engine has no use for (what meshspec sends it: desired.py), each with why, refused there.
AWS_ONLY_SERVICE_KEYS = {
    ("port", "port"): "routes to the port its runtime listens on ($PORT)",
    ("protocol", "protocol"): "serves HTTP(S) through its own front end, outside the mesh",
    ("cpu", "cpu"): "sizes instances by instance class and scaling settings, which meshspec does not send",
    ("memory", "memory"): "sizes instances by instance class and scaling settings, which meshspec does not send",
    ("desired_count", "desiredCount"): "scales versions itself (meshspec sends no scaling settings)",
    ("secrets", "secrets"): "takes no secret references in a version",
    ("log_retention_days", "logRetentionDays"): "logs to Cloud Logging, not to a CloudWatch log group",
}


def run_all(spec: Spec, problems: Problems, *, base_dir: FsPath | None, today: dt.date,
            all_services: set[str] | None = None, complete: bool = True) -> None:
    """Run every cross-reference rule. With ``complete=False`` the spec holds only the services that passed
    the field rules; references to the others (``all_services``) are not reported, and quotas are skipped."""
    check_clusters(spec, problems)
    check_ec2_capacity(spec, problems, complete)
    if spec.aws is not None:
        registry.primary(spec).check_placement(spec, problems)
    check_log_key(spec, problems)
    for name, svc in spec.services.items():
        check_placement(spec, name, svc, problems)
        check_versions(name, svc, problems)
        check_traffic(name, svc, problems, registry.primary(spec).weight_rule)
        check_env(name, svc, problems)
        check_majors(name, svc, problems, base_dir)
    check_paths(spec, problems)
    check_appengine_default(spec, problems)
    known = all_services or set(spec.services)
    check_uses(spec, problems, today, known)
    if base_dir is not None:
        check_contracts(spec, problems, base_dir, today)
    check_queries(spec, problems, known)
    check_backend(spec, problems, known, complete)
    check_pipeline(spec, problems, complete)
    cohorts.check(spec, problems)
    check_observability(spec, problems)
    if complete:
        check_quotas(spec, problems)


# Cluster keys that apply to one kind of cluster only: (attribute, YAML key, where it applies, code).
EC2_CLUSTER_KEYS = (("instance_type", "instanceType"), ("min_capacity", "minCapacity"),
                    ("max_capacity", "maxCapacity"), ("eni_trunking", "eniTrunking"))


def check_clusters(spec: Spec, p: Problems) -> None:
    """Names unique; every key written only where it takes effect (EC2 keys on EC2 capacity, kubernetesVersion
    on EKS), so a key that would do nothing is refused where it is written."""
    if not spec.aws:
        return
    seen: dict[str, int] = {}
    for i, c in enumerate(spec.aws.clusters):
        path = ("aws", "clusters", i)
        if c.name in seen:
            p.add(path + ("name",), f"cluster name {c.name!r} is already used by aws.clusters[{seen[c.name]}]",
                  "duplicate-cluster", given=c.name, allowed="a unique name per cluster")
        seen.setdefault(c.name, i)
        written = c.model_fields_set
        if c.platform == "eks" and c.capacity is not None:
            p.add(path + ("capacity",), "capacity applies to ECS clusters only; EKS runs on Auto Mode compute",
                  "eks-capacity", given=c.capacity, allowed="leave capacity out for platform: eks")
        ec2 = "ec2" in c.capacities
        where = ("an EKS cluster (Auto Mode compute)" if c.platform == "eks"
                 else f"cluster {c.name} offers only {', '.join(c.capacities)}")
        for attr, key in EC2_CLUSTER_KEYS:
            if attr in written and not ec2:
                p.add(path + (key,), f"{key} applies to ECS clusters with EC2 capacity; {where}",
                      "instance-type-without-ec2" if attr == "instance_type" else "ec2-only",
                      given=getattr(c, attr),
                      allowed=f"{key} with platform: ecs and capacity: ec2 (or a list with ec2), or leave it out")
        if "kubernetes_version" in written and c.platform != "eks":
            p.add(path + ("kubernetesVersion",), "kubernetesVersion applies to EKS clusters; this cluster runs ECS",
                  "eks-only", given=c.kubernetes_version, allowed="kubernetesVersion with platform: eks, or leave it out")
        if c.platform != "eks" and "secrets_encryption" in c.model_fields_set:
            p.add(path + ("secretsEncryption",), "secretsEncryption applies to EKS clusters only (ECS injects secrets "
                  "into tasks from Secrets Manager or SSM, encrypted there)", "eks-only",
                  given=c.secrets_encryption, allowed="leave secretsEncryption out for platform: ecs")
        if ec2 and c.min_capacity > c.max_capacity:
            p.add(path + ("minCapacity",), f"minCapacity {c.min_capacity} is above maxCapacity {c.max_capacity}",
                  "capacity-range", given=c.min_capacity, allowed=f"at most {c.max_capacity}")
        if ec2:
            check_instance_type(c, path, p)


def check_log_key(spec: Spec, p: Problems) -> None:
    """defaults.logKmsKey: only where meshspec creates log groups (AWS), and a key in their region."""
    key = spec.defaults.log_kms_key
    if key is None:
        return
    path = ("defaults", "logKmsKey")
    if spec.aws is None:
        p.add(path, "logKmsKey encrypts the AWS log groups meshspec creates; this spec has no aws section",
              "log-key-without-aws", given=key, allowed="leave logKmsKey out, or add the aws section",
              hint="App Engine's logs go to Cloud Logging, which this key does not reach")
        return
    if key != "create" and key.split(":")[3] != spec.aws.region:
        p.add(path, f"CloudWatch Logs uses a KMS key of the log group's own region; this key is in "
              f"{key.split(':')[3]}, the log groups in {spec.aws.region}", "log-key-region", given=key,
              allowed=f"a key ARN in {spec.aws.region}, or create",
              hint="create a key in the spec's region (or a multi-Region replica of this one there)")


def check_placement(spec: Spec, name: str, svc: Service, p: Problems) -> None:
    path = ("services", name)
    if (svc.cluster is None) == (svc.appengine is None):
        p.add(path, "a service runs either on an AWS cluster or on App Engine",
              "placement", given=D("both cluster and appengine" if svc.cluster else "neither"),
              allowed="exactly one of: cluster, appengine")
        return
    if svc.cluster is not None:
        cluster = spec.cluster(svc.cluster)
        if cluster is None:
            known = [c.name for c in spec.aws.clusters] if spec.aws else []
            p.add(path + ("cluster",), f"cluster {svc.cluster!r} is not defined under aws.clusters",
                  "unknown-cluster", given=svc.cluster, allowed=", ".join(known) or "no cluster is defined",
                  hint=_did_you_mean(svc.cluster, known) or "add it under aws.clusters")
            return
        check_service_capacity(spec, name, svc, cluster, p)
        if capacity_of(spec, svc) == "fargate":
            allowed = FARGATE_MEMORY.get(svc.cpu)
            if allowed is None:
                p.add(path + ("cpu",), f"Fargate has no {svc.cpu} CPU units size", "fargate-cpu",
                      given=svc.cpu, allowed=", ".join(map(str, FARGATE_MEMORY)))
            elif svc.memory not in allowed:
                p.add(path + ("memory",), f"Fargate does not offer {svc.memory} MiB with {svc.cpu} CPU units",
                      "fargate-memory", given=svc.memory, allowed=_ranges(allowed))
        for key in [k for k, ref in svc.secrets.items() if not AWS_SECRET_REF.match(ref)]:
            p.add(path + ("secrets", key), "a secret on AWS is a Secrets Manager secret ARN or an SSM parameter ARN",
                  "secret-ref", given=_shown_ref(svc.secrets[key]),
                  allowed="arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME[:JSON_KEY] or "
                          "arn:aws:ssm:REGION:ACCOUNT:parameter/NAME")
        regions = sorted({ref.split(":")[3] for ref in svc.secrets.values() if AWS_SECRET_REF.match(ref)})
        if cluster.platform == "eks" and len(regions) > 1:
            p.add(path + ("secrets",), "on EKS a service's secrets come from one region: the Secrets Store CSI "
                  "driver's AWS provider reads a pod's SecretProviderClass from one region",
                  "eks-secret-regions", given=D(f"references in {', '.join(regions)}"),
                  allowed="every secret reference of the service in one region",
                  hint="replicate the secrets to one region (Secrets Manager replica secrets), or run the service "
                       "on an ECS cluster, which reads each reference from its own region")
    else:
        check_service_capacity(spec, name, svc, None, p)
        for attr, key in AWS_ONLY_SERVICE_KEYS:
            if attr in svc.model_fields_set:
                p.add(path + (key,), f"{key} applies to services on AWS clusters; {name} runs on App Engine, "
                      f"which {AWS_ONLY_SERVICE_KEYS[(attr, key)]}", "aws-only",
                      given=D("a reference (not shown)") if attr == "secrets" else getattr(svc, attr),
                      allowed=f"leave {key} out on App Engine, or run the service on an AWS cluster",
                      hint="read secrets from Secret Manager in the app (its service account needs "
                           "roles/secretmanager.secretAccessor)" if attr == "secrets" else None)
        if spec.gcp is None:
            p.add(path + ("appengine",), "services on App Engine need the gcp section (project and location)",
                  "missing-gcp", allowed="a top-level gcp: {project, location}")
        if "-dot-" in name:
            p.add(path, "App Engine service ids cannot contain '-dot-'", "appengine-id", given=name)
        if svc.appengine.majors_as_services:
            for major in svc.majors:
                if len(f"{name}-{major}") > 63:
                    p.add(path, f"the App Engine service id {name}-{major} is longer than 63 characters",
                          "appengine-id", given=f"{name}-{major}", allowed="at most 63 characters")
        if svc.appengine.migrate_traffic and svc.appengine.environment == "flexible":
            p.add(path + ("appengine", "migrateTraffic"),
                  "App Engine migrates traffic gradually only in the standard environment",
                  "migrate-flexible", given=D("environment: flexible"),
                  allowed="migrateTraffic: false, or environment: standard",
                  hint="Google refuses migrateTraffic for flexible versions; set the split directly")
        if svc.appengine.migrate_traffic and len(svc.versions) and sum(
                1 for v in svc.versions if any(s > 0 for s in _all_shares(svc, v.name))) > 1:
            p.add(path + ("appengine", "migrateTraffic"),
                  "gradual migration moves all traffic to one version; this service splits it between several",
                  "migrate-split", allowed="migrateTraffic with exactly one version taking traffic")


def _shown_ref(ref: str) -> object:
    """What a wrong secret reference shows: the reference when it looks like one (a typo to fix), otherwise
    nothing of it, since it may be the secret itself."""
    if ref.startswith(("arn:", "projects/")):
        return ref
    return D("a value that is not a reference (not shown)")


def _all_shares(svc: Service, version: str) -> list[Decimal]:
    return [shares(svc, m)[version] for m in live_majors(svc)]


def check_versions(name: str, svc: Service, p: Problems) -> None:
    seen: dict[str, int] = {}
    for i, v in enumerate(svc.versions):
        path = ("services", name, "versions", i)
        if v.name in seen:
            p.add(path + ("name",), f"version {v.name!r} is already defined at versions[{seen[v.name]}]",
                  "duplicate-version", given=v.name, allowed="a unique name per service")
        seen.setdefault(v.name, i)
        if svc.appengine is not None:
            if v.name in APPENGINE_RESERVED_VERSIONS or v.name.startswith("ah-") or "-dot-" in v.name:
                p.add(path + ("name",), "App Engine reserves this version id", "appengine-version-id",
                      given=v.name, allowed="not 'default' or 'latest', not starting with 'ah-', no '-dot-'")
            env = svc.appengine.environment
            if env == "standard" and not v.source:
                p.add(path, "App Engine standard versions deploy from source", "version-artifact",
                      given=D("image" if v.image else "neither image nor source"), allowed="source: gs://BUCKET/app.zip")
            if env == "standard" and v.image:
                p.add(path + ("image",), "App Engine standard versions do not run container images",
                      "version-artifact", given=v.image, allowed="source only")
            if env == "flexible" and bool(v.image) == bool(v.source):
                p.add(path, "an App Engine flexible version needs exactly one of image or source",
                      "version-artifact", given=D("both" if v.image else "neither"), allowed="image or source")
            _check_appengine_artifact(path, v.image if env == "flexible" else None, v.source, p)
        else:
            if not v.image:
                p.add(path, "a version on an AWS cluster needs a container image", "version-artifact",
                      given=D("source" if v.source else "no image"), allowed="image: REPOSITORY:TAG")
            if v.source:
                p.add(path + ("source",), "source deploys are for App Engine; AWS versions run images",
                      "version-artifact", given=v.source, allowed="image only")
        if isinstance(v.traffic, dict):
            for major in v.traffic:
                if major not in svc.majors:
                    p.add(path + ("traffic", major), f"major {major!r} is not defined for service {name!r}",
                          "unknown-major", given=major, allowed=", ".join(svc.majors))


def _check_appengine_artifact(path: tuple, image: str | None, source: str | None, p: Problems) -> None:
    """What the App Engine plan refuses in a version's artifact (meshspec.infra.appengine.plan._artifact)."""
    from meshspec.infra.appengine.desired import source_url
    from meshspec.infra.appengine.plan import IMAGE, STORAGE_URL

    if image and not IMAGE.match(image):
        p.add(path + ("image",), "App Engine deploys a fully qualified image with a tag or digest",
              "version-artifact", given=image, allowed="REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:DIGEST")
    if source and not STORAGE_URL.match(source_url(source)):
        p.add(path + ("source",), "App Engine deploys source from a Cloud Storage object", "version-artifact",
              given=source, allowed="gs://BUCKET/OBJECT.zip (or https://storage.googleapis.com/BUCKET/OBJECT)")


def check_traffic(name: str, svc: Service, p: Problems, weight_rule: str | None = None) -> None:
    """Shares per major are percentages summing to 100, expressible on the target platform. ``weight_rule``: why
    an AWS service's share must be whole (its mesh backend's ``weight_rule``). Default: the default backend's."""
    if len({v.name for v in svc.versions}) != len(svc.versions):
        return  # duplicate version names are reported by check_versions; sums would mislead
    split_by = svc.appengine.split_by if svc.appengine else None
    # App Mesh and Lattice take integer weights; App Engine fractions take 2 decimals for ip, 3 for cookie and random.
    places = 0 if split_by in (None, "ip") else 1
    why = ((weight_rule or registry.default().weight_rule) if split_by is None
           else f"App Engine {split_by} splits take fractions with at most {2 + places} decimals")
    majors = live_majors(svc)
    for major in majors:
        split = shares(svc, major)
        for i, v in enumerate(svc.versions):
            share = split[v.name]
            if share != share.quantize(Decimal(1).scaleb(-places)):
                allowed = "whole percentages" if places == 0 else "percentages with at most one decimal"
                p.add(("services", name, "versions", i, "traffic"),
                      f"{share}% of {major} cannot be expressed: {why}", "traffic-precision",
                      given=f"{share}", allowed=allowed)
        total = sum(split.values(), Decimal(0))
        if total != 100:
            p.add(("services", name, "versions"), f"the shares of {major} sum to {total}%, not 100%",
                  "traffic-sum", given=", ".join(f"{k}={v}" for k, v in split.items()),
                  allowed="shares summing to 100",
                  hint="give each version's traffic as one number for every major or per major: traffic: {v1: 90}")
    if svc.appengine and not svc.appengine.majors_as_services and len(majors) > 1:
        splits = {m: shares(svc, m) for m in majors}
        first, *rest = majors
        for m in rest:
            if splits[m] != splits[first]:
                p.add(("services", name, "versions"),
                      f"App Engine splits a service's traffic once for all its paths, but {first} and {m} differ",
                      "appengine-split-per-major", given=f"{first}: {_fmt(splits[first])}; {m}: {_fmt(splits[m])}",
                      allowed="the same shares for every major",
                      hint="set appengine.majorsAsServices: true to deploy each major as its own service")


def _fmt(split: dict[str, Decimal]) -> str:
    return ", ".join(f"{k}={v}" for k, v in split.items())


RESERVED_ENV_PREFIX = "MESHSPEC_"


def check_env(name: str, svc: Service, p: Problems) -> None:
    reviewed = set(svc.not_secret)
    for key, why in secrets.findings(svc.env, reviewed):
        p.add(("services", name, "env", key), f"{key} looks like a secret: {why}; a literal value would land in "
              "templates and logs", "secret-literal", given=D(secrets.masked_value(svc.env[key])),
              allowed="a reference under secrets:",
              hint=f"move it to secrets: {{{key}: arn:aws:secretsmanager:…}} (AWS) or a Secret Manager name (GCP); "
                   f"if it is no secret, list it under notSecret (see `meshspec help spec`)")
    for i, key in enumerate(svc.not_secret):
        if key not in svc.env:
            p.add(("services", name, "notSecret", i), f"notSecret names {key}, which is not under env",
                  "not-secret-unknown", given=key, allowed=", ".join(svc.env) or "no variable: env is empty")
        elif not secrets.finding(key, svc.env[key]):
            p.warn(("services", name, "notSecret", i), f"{key} is not taken for a secret: nothing to mark",
                   "not-secret-unneeded", given=key, allowed="only variables meshspec would refuse")
    for i, v in enumerate(svc.versions):
        for field, value in (("image", v.image), ("source", v.source)):
            kind = secrets.shape(value) if value else None
            if kind:
                p.add(("services", name, "versions", i, field),
                      f"the {field} has the shape of {kind}; it would land in templates and logs",
                      "secret-literal", given=D(secrets.masked_value(value)), allowed="no credentials in it",
                      hint="registries and buckets are read with the service's own role or service account")
    for key in svc.env:
        if key in svc.secrets:
            p.add(("services", name, "env", key), f"{key} is given both under env and under secrets",
                  "env-secret-clash", given=key, allowed="each variable once")
    for where, keys in (("env", svc.env), ("secrets", svc.secrets)):
        for key in keys:
            if key.startswith(RESERVED_ENV_PREFIX):
                p.add(("services", name, where, key), f"{key} is reserved: meshspec sets the {RESERVED_ENV_PREFIX}* "
                      "variables (the service, its version, and where each service it uses answers)",
                      "env-reserved", given=key, allowed=f"a name not starting with {RESERVED_ENV_PREFIX}",
                      hint="read MESHSPEC_UPSTREAM_<SERVICE> instead of setting an address (see `meshspec help backends`)")


def check_majors(name: str, svc: Service, p: Problems, base_dir: FsPath | None) -> None:
    for major, m in svc.majors.items():
        path = ("services", name, "majors", major)
        if base_dir is not None and not (base_dir / m.contract).is_file():
            p.add(path + ("contract",), f"contract file {m.contract!r} does not exist", "contract-missing",
                  given=str(m.contract), allowed=f"a file relative to {base_dir}")
        if m.sunset is not None and m.status != "deprecated":
            p.add(path + ("sunset",), f"a sunset date only takes effect on a deprecated major; {major} is {m.status}",
                  "sunset-not-deprecated", given=str(m.sunset), allowed="sunset with status: deprecated",
                  hint=f"set status: deprecated on {major}, or remove sunset")
    if svc.cluster is not None and not live_majors(svc):
        p.add(("services", name, "majors"), f"every major of {name} is retired: a service on an AWS cluster routes "
              "its live majors, and has none", "no-live-major", given=D(f"{len(svc.majors)} retired major(s)"),
              allowed="at least one major with status active or deprecated",
              hint=f"remove {name} from the spec to take it down, or keep one major live")


def check_contracts(spec: Spec, p: Problems, base_dir: FsPath, today: dt.date) -> None:
    """The contract files themselves: readable, paths under their major's prefix, operations that consumers name
    present, deprecated and sunset operations (:mod:`meshspec.infra.contracts.rules`; imported here because the
    contracts package imports the spec)."""
    from meshspec.infra.contracts import rules

    rules.check(spec, p, base_dir, today)


def check_appengine_default(spec: Spec, p: Problems) -> None:
    """App Engine creates other services only once the ``default`` service exists: exactly one is it."""
    gae = spec.appengine_services()
    if not gae:
        return
    marked = [n for n, s in gae.items() if s.appengine.default_service]
    for name in marked[1:]:
        p.add(("services", name, "appengine", "defaultService"),
              f"only one service can be App Engine's default service; {marked[0]} already is", "appengine-default",
              given=name, allowed="defaultService: true on exactly one App Engine service")
    for name in marked:
        if gae[name].appengine.majors_as_services:
            p.add(("services", name, "appengine"), "the default service cannot also be split into one service "
                  "per major", "appengine-default", given=D("defaultService and majorsAsServices"),
                  allowed="one of the two")
    if not marked:
        first = next(iter(gae))
        p.add(("services", first, "appengine"), "App Engine needs a default service before any other",
              "appengine-default", given=D("no service with defaultService: true"),
              allowed="defaultService: true on exactly one App Engine service",
              hint="mark the service that serves / (usually the web front end) with appengine.defaultService: true")


def check_paths(spec: Spec, p: Problems) -> None:
    owner: dict[str, str] = {}
    for name, svc in spec.services.items():
        for major, m in live_majors(svc).items():
            path = major_path(name, major, m)
            if path in owner:
                p.add(("services", name, "majors", major, "path"), f"path {path} is already served by {owner[path]}",
                      "duplicate-path", given=path, allowed="a path prefix served by one major only")
            owner.setdefault(path, f"{name}/{major}")


def check_uses(spec: Spec, p: Problems, today: dt.date, known: set[str]) -> None:
    for name, svc in spec.services.items():
        for i, ref in enumerate(svc.uses):
            path = ("services", name, "uses", i)
            target, major = ref.split("/", 1)
            other = spec.services.get(target)
            if other is None and target in known:
                continue  # that service has its own errors, reported above
            if other is None:
                p.add(path, f"{target!r} is not a service in this spec", "unknown-service", given=ref,
                      allowed=", ".join(sorted(spec.services))[:200],
                      hint=_did_you_mean(target, list(spec.services)))
                continue
            m = other.majors.get(major)
            if m is None:
                p.add(path, f"{target} has no major {major}", "unknown-major", given=ref,
                      allowed=", ".join(f"{target}/{k}" for k in other.majors))
            elif m.status == "retired":
                p.add(path, f"{target}/{major} is retired", "uses-retired", given=ref,
                      allowed=", ".join(f"{target}/{k}" for k, x in other.majors.items() if x.status != "retired"),
                      hint=f"move {name} to a live major of {target}")
            elif m.status == "deprecated":
                if m.sunset is not None and m.sunset < today:
                    p.add(path, f"{target}/{major} was sunset on {m.sunset}", "uses-sunset", given=ref,
                          allowed=", ".join(f"{target}/{k}" for k, x in other.majors.items() if x.status == "active"),
                          hint=f"move {name} to the newer major before it goes away")
                else:
                    until = f" until {m.sunset}" if m.sunset else ""
                    p.warn(path, f"{target}/{major} is deprecated{until}", "uses-deprecated", given=ref)
        dupes = [ref for ref, n in Counter(svc.uses).items() if n > 1]
        for ref in dupes:
            p.warn(("services", name, "uses"), f"{ref} is listed more than once", "uses-duplicate", given=ref)


def check_queries(spec: Spec, p: Problems, known: set[str]) -> None:
    seen: set[str] = set()
    for i, cq in enumerate(spec.queries.custom):
        if cq.name in seen:
            p.add(("queries", "custom", i, "name"), f"query name {cq.name!r} is used twice", "duplicate-query",
                  given=cq.name)
        seen.add(cq.name)
        for j, s in enumerate(cq.services or []):
            if s not in known:
                p.add(("queries", "custom", i, "services", j), f"{s!r} is not a service in this spec",
                      "unknown-service", given=s, hint=_did_you_mean(s, list(spec.services)))


def check_observability(spec: Spec, p: Problems) -> None:
    """Instrumentation and objectives only where meshspec can measure them (meshspec help observability)."""
    obs = spec.observability
    legacy = obs.agent == "xray-daemon"
    if spec.aws is not None and "sampling_percent" in obs.model_fields_set and not spec.defaults.tracing:
        p.add(("aws", "observability", "samplingPercent"), "samplingPercent has no effect: defaults.tracing is false, "
              "so no trace is kept", "observability-unused", given=str(obs.sampling_percent),
              allowed="leave samplingPercent out, or set defaults.tracing: true")
    for name, svc in spec.services.items():
        base = ("services", name)
        on_aws = svc.cluster is not None
        if not on_aws and "language" in svc.model_fields_set:
            p.add(base + ("language",), "language applies to services on an AWS cluster (meshspec instruments their "
                  "tasks and pods); App Engine runs its own runtime", "aws-only", given=svc.language,
                  allowed="leave language out on App Engine services")
        elif legacy and "language" in svc.model_fields_set:
            p.add(base + ("language",), "language needs the CloudWatch agent: with the X-Ray daemon nothing is "
                  "instrumented", "observability-unused", given=svc.language,
                  allowed="aws.observability.agent: cloudwatch, or leave language out")
        if svc.slo is not None:
            _check_slo(base + ("slo",), svc.slo, p)
            if not on_aws:
                p.add(base + ("slo",), "objectives are measured by CloudWatch Application Signals, on AWS services",
                      "aws-only", given=D("an slo on an App Engine service"),
                      allowed="slo on services with a cluster", hint="meshspec status still reads App Engine's "
                      "figures from Cloud Monitoring")
            elif legacy:
                p.add(base + ("slo",), "a service's objectives are measured by Application Signals, which the X-Ray "
                      "daemon does not feed", "observability-unused", given=D("aws.observability.agent: xray-daemon"),
                      allowed="aws.observability.agent: cloudwatch", hint="objectives of a major (majors.vN.slo) "
                      "are measured on the mesh's series and work with either agent")
        measured = metric_majors(spec, name) if on_aws else {}
        for major, m in svc.majors.items():
            if m.slo is None:
                continue
            where = base + ("majors", major, "slo")
            _check_slo(where, m.slo, p)
            if major not in measured:
                why = ("it is retired" if m.status == "retired" else "it runs on App Engine" if not on_aws
                       else f"the {spec.backend} backend publishes no series per major"
                       if not registry.primary(spec).access_log_metrics
                       else "a gRPC service with several majors is routed on a header its access log omits")
                p.add(where, f"{name}/{major} has no series of its own to measure an objective on: {why}",
                      "slo-unmeasured", given=D(f"slo on {name}/{major}"),
                      allowed="slo on path-routed majors of services whose backend counts each major, or the "
                      "service's slo",
                      hint=f"put the objective on services.{name}.slo (Application Signals measures the service)")


def _check_slo(path: tuple, slo, p: Problems) -> None:
    if slo.availability is None and slo.latency is None:
        p.add(path, "an slo needs an objective", "slo-empty", given=D("neither availability nor latency"),
              allowed="availability: 99.9, latency: {thresholdMs: 300}, or both")


def check_quotas(spec: Spec, p: Problems) -> None:
    """The mesh backends', App Engine's and CloudFormation's quotas, counted on the spec so nothing is sent that
    would be refused (CloudFormation's per stack: infra/spec/stack_quotas.py)."""
    check_cloudformation(spec, p)
    if spec.aws is not None and spec.aws_services():
        for backend in registry.active(spec):
            backend.check_quotas(spec, p)
    check_appengine_quotas(spec, p)


def check_appengine_quotas(spec: Spec, p: Problems) -> None:
    """What App Engine's plan would refuse for the whole app, found before it (quotas.py: the figures), each at
    the service that contributes most."""
    from meshspec.infra.appengine import dispatch
    from meshspec.infra.appengine.desired import dispatch_targets

    gae = spec.appengine_services()
    if not gae:
        return
    per_service = {n: len(s.versions) * (len(live_majors(s)) if s.appengine.majors_as_services else 1)
                   for n, s in gae.items()}
    versions = sum(per_service.values())
    if versions > q.APPENGINE_VERSIONS_PER_APP:
        top = max(per_service, key=per_service.get)
        p.add(("services", top, "versions"), f"App Engine would hold {versions} versions ({top}: "
              f"{per_service[top]}); an app allows {q.APPENGINE_VERSIONS_PER_APP} (App Engine quota: versions per "
              "app)", "quota-appengine", given=versions, allowed=f"at most {q.APPENGINE_VERSIONS_PER_APP}",
              hint="remove versions that take no traffic" + (", or set majorsAsServices: false (each major "
                   "multiplies the versions)" if gae[top].appengine.majors_as_services else ""))
    targets = dispatch_targets(spec)
    sids = {sid for _, sid, _, _ in targets} | {
        naming.appengine_service(n, default=s.appengine.default_service) for n, s in gae.items()
        if not s.appengine.majors_as_services}
    if len(sids) > q.APPENGINE_SERVICES_PER_APP:
        counts = Counter(n for _, _, n, _ in targets if gae[n].appengine.majors_as_services)
        top = max(counts, key=counts.get) if counts else next(iter(gae))
        p.add(("services", top) if counts else ("services",), f"App Engine would hold {len(sids)} services; an app "
              f"allows {q.APPENGINE_SERVICES_PER_APP} (App Engine quota: services per app)", "quota-appengine",
              given=len(sids), allowed=f"at most {q.APPENGINE_SERVICES_PER_APP}",
              hint="set majorsAsServices: false where a service's majors can share one split, or move services "
                   "to another App Engine app (another gcp.project)")
    rules = dispatch.rules_for((path, sid) for path, sid, _, _ in targets)
    if len(rules) > q.APPENGINE_DISPATCH_RULES:
        counts = Counter(n for _, _, n, _ in targets)
        top = max(counts, key=counts.get)
        p.add(("services", top, "majors"), f"App Engine would need {len(rules)} dispatch rules, one per live "
              f"major's path ({', '.join(f'{n}: {c}' for n, c in counts.most_common())}); an app allows "
              f"{q.APPENGINE_DISPATCH_RULES} (App Engine quota: dispatch rules per app)", "quota-appengine",
              given=len(rules), allowed=f"at most {q.APPENGINE_DISPATCH_RULES} live majors over all App Engine "
              "services", hint="retire majors nobody uses (status: retired), or move services to another App "
                               "Engine app (another gcp.project)")
    for path, _, name, major in targets:
        length = len(dispatch.DOMAIN) + len(dispatch.rule_path(path))
        if length > dispatch.MAX_DOMAIN_PATH:
            p.add(("services", name, "majors", major, "path"), f"the dispatch rule for {path} is {length} "
                  f"characters (domain {dispatch.DOMAIN!r} plus path {dispatch.rule_path(path)}); App Engine allows "
                  f"{dispatch.MAX_DOMAIN_PATH}", "quota-appengine", given=path,
                  allowed=f"a path of at most {dispatch.MAX_DOMAIN_PATH - len(dispatch.DOMAIN) - 1} characters",
                  hint="give the major a shorter path (majors.<major>.path)")


def consumers(spec: Spec) -> dict[str, dict[str, list[str]]]:
    """For each service and major, the AWS services that declare they call it (``uses``), in spec order."""
    out: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for name, svc in spec.aws_services().items():
        for ref in svc.uses:
            target, major = ref.split("/", 1)
            if name not in out[target][major]:
                out[target][major].append(name)
    return out


def check_backend(spec: Spec, p: Problems, known: set[str] | None = None, complete: bool = True) -> None:
    """What the chosen mesh backend cannot express, said with the backend that can. On an incomplete spec
    (services that failed the field rules left out) totals are skipped and their names are not reported."""
    if not spec.aws:
        return
    active = registry.active(spec)
    for backend in registry.all_backends():
        if backend not in active:
            backend.check_unused(spec, p)
    if spec.aws.mesh.migration is not None:
        _check_migration(spec, p, known or set(spec.services))
    # The backend in use, and during a migration the one coming in, must both express the spec.
    for backend, role in zip(active, ("primary", "incoming")):
        backend.check(spec, p, role=role, complete=complete)


def _check_migration(spec: Spec, p: Problems, known: set[str]) -> None:
    mesh = spec.aws.mesh
    where = ("aws", "mesh", "migration")
    hosts = registry.titles(registry.hosts())
    if not registry.primary(spec).hosts_migration:
        p.add(where, f"a migration moves off {hosts}, but the backend is already {mesh.backend}",
              "migration-backend", given=mesh.backend,
              allowed=" or ".join(f"backend: {b.name}" for b in registry.hosts()) + " while migration is set",
              hint="remove migration: the move is complete")
        return
    aws = spec.aws_services()
    seen: set[str] = set()
    for i, name in enumerate(mesh.migration.moved):
        if name in seen:
            p.warn(where + ("moved", i), f"{name} is listed more than once", "migration-duplicate", given=name)
        seen.add(name)
        if name not in aws and name not in known - set(spec.services):
            why = "runs on App Engine, outside the mesh" if name in spec.services else "is not a service in this spec"
            p.add(where + ("moved", i), f"{name!r} {why}", "migration-unknown-service", given=name,
                  allowed=", ".join(sorted(aws))[:200] or "no AWS service", hint=_did_you_mean(name, list(aws)))
    if registry.incoming(spec).joins != "twin":
        return  # joining in the same tasks, every service answers on both backends: callers move in any order
    # A service moved to a backend that runs its own workload stops the host's tasks, so nobody may still call it
    # through the host.
    host = registry.primary(spec).title
    moved = set(mesh.migration.moved)
    callers_of = consumers(spec)
    for i, name in enumerate(mesh.migration.moved):
        left = sorted({c for callers in callers_of.get(name, {}).values() for c in callers} - moved - {name})
        if name in aws and left:
            p.add(where + ("moved", i), f"{name} cannot move before {', '.join(left)}, which still "
                  f"call{'s' if len(left) == 1 else ''} it through {host}; once moved, {name}'s {host} tasks stop",
                  "migration-order", given=name, allowed=f"{name} after {', '.join(left)}",
                  hint="move callers before the services they call (meshspec migrate lists that order)")


def _ranges(values: tuple[int, ...]) -> str:
    if len(values) <= 3:
        return ", ".join(map(str, values))
    return f"{values[0]} to {values[-1]} in steps of {values[1] - values[0]}"


def _did_you_mean(word: str, choices: list[str]) -> str | None:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def check_pipeline(spec: Spec, p: Problems, complete: bool = True) -> None:
    """aws.pipeline: its stack name free, canary only where meshspec moves traffic, and its waves within
    CodePipeline's fixed quotas (infra/waves.py counts them; quotas.py: the figures and their source)."""
    pipe = spec.aws.pipeline if spec.aws else None
    if pipe is None:
        return
    path = ("aws", "pipeline")
    stack = naming.stack_pipeline(spec.project)
    for i, c in enumerate(spec.aws.clusters):
        if naming.stack_cluster(spec.project, c.name) == stack:
            p.add(("aws", "clusters", i, "name"), f"cluster {c.name!r} would get the stack name {stack}, which "
                  "aws.pipeline's stack takes", "pipeline-stack-name", given=c.name,
                  allowed="another cluster name (renaming a cluster replaces it: rename it before adding the pipeline)")
    backend = registry.primary(spec)
    if "canary" in pipe.model_fields_set and "lasting-weights" not in backend.features:
        movers = [b for b in registry.all_backends() if "lasting-weights" in b.features]
        p.add(path + ("canary",), f"canary applies to {registry.titles(movers)}, whose weights meshspec moves; "
              f"{backend.title} keeps none (meshspec canary refuses it)", "pipeline-canary-backend",
              given=pipe.canary, allowed=f"leave canary out with backend: {backend.name}")
    if not complete:
        return  # the waves count every service: only on a spec whose services all passed their field rules
    from meshspec.infra.waves import pipeline_shape

    shape = pipeline_shape(spec)
    hint = ("deploy more stacks per action (aws.pipeline.stacksPerAction) or run more actions per wave "
            f"(aws.pipeline.actionsPerWave, up to {q.CODEPIPELINE_ACTIONS_PER_STAGE}); "
            "see `meshspec help pipelines`")
    if shape.stages > q.CODEPIPELINE_STAGES_PER_PIPELINE:
        p.add(path + ("actionsPerWave",), f"the pipeline would have {shape.stages} stages ({len(shape.waves)} "
              f"deploy waves); CodePipeline allows {q.CODEPIPELINE_STAGES_PER_PIPELINE} per pipeline (a fixed quota)",
              "quota-codepipeline", given=shape.stages, allowed=f"at most {q.CODEPIPELINE_STAGES_PER_PIPELINE} stages",
              hint=hint)
    if shape.actions > q.CODEPIPELINE_ACTIONS_PER_PIPELINE:
        p.add(path + ("stacksPerAction",), f"the pipeline would have {shape.actions} actions; CodePipeline "
              f"allows {q.CODEPIPELINE_ACTIONS_PER_PIPELINE} per pipeline (a fixed quota)", "quota-codepipeline",
              given=shape.actions, allowed=f"at most {q.CODEPIPELINE_ACTIONS_PER_PIPELINE} actions", hint=hint)

