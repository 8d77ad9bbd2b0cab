"""Google's documented refusals for the App Engine Admin API v1, as pure functions.

Each check raises :class:`ApiError` with the HTTP status and google.rpc status name Google answers with.
The wording of every rule comes from Google's reference; the source is cited on each function:

- discovery document ``appengine.v1.json`` (shipped in google-api-python-client, revision 20261023),
  the same text as https://cloud.google.com/appengine/docs/admin-api/reference/rest/v1/ ;
- googleapis/python-appengine-admin ``google/cloud/appengine_admin_v1/types/service.py`` (TrafficSplit)
  and ``types/appengine.py`` (UpdateServiceRequest.migrate_traffic);
- gcloud 528 ``googlecloudsdk/api_lib/app`` (what the CLI sends: masks, rounding).
"""
from __future__ import annotations

import math
import re
from typing import Iterable, Mapping

from google.rpc import code_pb2

# google.rpc.Code names and the HTTP status Google maps them to
# (https://cloud.google.com/apis/design/errors#handling_errors).
HTTP_STATUS = {
    "INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409, "ABORTED": 409, "RESOURCE_EXHAUSTED": 429, "CANCELLED": 499,
    "INTERNAL": 500, "UNKNOWN": 500, "DATA_LOSS": 500, "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503, "DEADLINE_EXCEEDED": 504,
}
STATUS_FOR_HTTP = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                   404: "NOT_FOUND", 409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                   501: "UNIMPLEMENTED", 502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


class ApiError(Exception):
    """A refusal in Google's shape: ``{"error": {"code", "message", "status", "details"}}``."""

    def __init__(self, status: str, message: str, *, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.status]

    def details(self) -> list[dict]:
        if not self.field:
            return []
        return [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                 "fieldViolations": [{"field": self.field, "description": self.message}]}]

    def to_json(self) -> dict:
        return {"error": {"code": self.http_status, "message": self.message, "status": self.status,
                          "details": self.details()}}

    def to_status(self) -> dict:
        """google.rpc.Status as it appears in ``Operation.error`` (its code is the google.rpc.Code number, not the
        HTTP status)."""
        return {"code": code_pb2.Code.Value(self.status), "message": self.message, "details": self.details()}


def invalid(message: str, field: str | None = None) -> ApiError:
    return ApiError("INVALID_ARGUMENT", message, field=field)


# --- ids ------------------------------------------------------------------------------------------

MAX_ID_LENGTH = 63
_ID = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
RESERVED_VERSION_IDS = ("default", "latest")


def check_id(kind: str, value: str, field: str) -> None:
    """Service and version ids: lowercase letters, digits and hyphens, start and end with a letter or
    digit, at most 63 characters (one DNS label), and never ``-dot-``, which App Engine's
    ``VERSION-dot-SERVICE-dot-APP.appspot.com`` addressing uses as its separator.

    Source: Version.id in the discovery document ("Version names can contain only lowercase letters,
    numbers, or hyphens"); gcloud's own check of ``--version`` ("May only contain lowercase letters,
    digits, and hyphens. Must begin and end with a letter or digit. Must not exceed 63 characters.");
    https://cloud.google.com/appengine/docs/standard/how-requests-are-routed (``-dot-`` addressing).
    """
    if not value:
        raise invalid(f"{kind} id is required.", field)
    if len(value) > MAX_ID_LENGTH:
        raise invalid(f"{kind} id {value!r} is {len(value)} characters long; at most {MAX_ID_LENGTH} "
                      f"are allowed.", field)
    if not _ID.match(value):
        raise invalid(f"{kind} id {value!r} is invalid: it may only contain lowercase letters, digits "
                      f"and hyphens, and must begin and end with a letter or digit.", field)
    if "-dot-" in value:
        raise invalid(f"{kind} id {value!r} must not contain '-dot-', the separator of App Engine's "
                      f"VERSION-dot-SERVICE-dot-APP host names.", field)


def check_version_id(value: str, field: str = "version.id") -> None:
    """Version ids also may not be ``default``, ``latest`` or start with ``ah-``.

    Source: Version.id in the discovery document: 'Reserved names: "default", "latest", and any name
    with the prefix "ah-".'
    """
    check_id("Version", value, field)
    if value in RESERVED_VERSION_IDS or value.startswith("ah-"):
        raise invalid(f"Version id {value!r} is reserved: 'default', 'latest' and any id starting with "
                      f"'ah-' cannot be used.", field)


def check_service_id(value: str, field: str = "service.id") -> None:
    check_id("Service", value, field)


# --- field masks ----------------------------------------------------------------------------------

def _snake(segment: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", segment).lower()


def parse_mask(mask: str | None) -> list[str]:
    """Field mask paths in snake_case. Clients send camelCase (the Python client turns ``split`` into
    ``split``, ``network_settings`` into ``networkSettings``); gcloud sends ``dispatchRules,`` with a
    trailing comma (googlecloudsdk/api_lib/app/appengine_api_client.py, UpdateDispatchRules)."""
    if not mask:
        return []
    return [".".join(_snake(s) for s in p.strip().split(".")) for p in mask.split(",") if p.strip()]


def check_mask(mask: str | None, allowed: Iterable[str], resource: str) -> list[str]:
    """``updateMask`` is "Required" on every patch (discovery document) and limited to the fields that
    method documents; anything else is refused before anything changes."""
    paths = parse_mask(mask)
    allowed = tuple(allowed)
    if not paths:
        raise invalid(f"An update mask is required to update {resource}: set updateMask to one or more "
                      f"of {', '.join(allowed)}.", "update_mask")
    for path in paths:
        if path not in allowed:
            raise invalid(f"Field {path!r} cannot be updated on {resource}: the update mask may only "
                          f"name {', '.join(allowed)}.", "update_mask")
    return paths


# Services.UpdateService: the fields a Service has besides its output-only id and name.
SERVICE_MASK = ("split", "network_settings", "labels")
# Applications.UpdateApplication: the three the discovery text lists, plus the ones gcloud sends with
# this method (dispatch_rules: UpdateDispatchRules; database_type: UpdateDatabaseType; serving_status:
# `gcloud app update`; feature_settings and ssl_policy: `gcloud app update` flags).
APPLICATION_MASK = ("auth_domain", "default_cookie_expiration", "iap", "dispatch_rules", "database_type",
                    "serving_status", "feature_settings", "ssl_policy")
# Versions.UpdateVersion: the list in apps.services.versions.patch's description, per environment and
# scaling (standard automatic / standard basic or manual / flexible).
VERSION_MASK_STANDARD_AUTOMATIC = (
    "instance_class", "automatic_scaling.min_idle_instances", "automatic_scaling.max_idle_instances",
    "automatic_scaling.standard_scheduler_settings.max_instances",
    "automatic_scaling.standard_scheduler_settings.min_instances",
    "automatic_scaling.standard_scheduler_settings.target_cpu_utilization",
    "automatic_scaling.standard_scheduler_settings.target_throughput_utilization")
VERSION_MASK_STANDARD_OTHER = ("instance_class", "serving_status", "manual_scaling.instances")
VERSION_MASK_FLEXIBLE = (
    "serving_status", "automatic_scaling.min_total_instances", "automatic_scaling.max_total_instances",
    "automatic_scaling.cool_down_period_sec", "automatic_scaling.cpu_utilization.target_utilization",
    "manual_scaling.instances")


# --- traffic splits -------------------------------------------------------------------------------

SHARD_DECIMALS = {"IP": 2, "COOKIE": 3, "RANDOM": 3, "UNSPECIFIED": 2}
_EPSILON = 1e-9


def decimals_ok(value: float, decimals: int) -> bool:
    """True when ``value`` has at most ``decimals`` decimal places, tolerating binary floating point
    (gcloud sends e.g. 0.33999999999999997 after giving the rounding remainder to the largest share)."""
    scaled = value * 10 ** decimals
    return abs(scaled - round(scaled)) < 1e-6


def check_split(allocations: Mapping[str, float], shard_by: str, existing_versions: Iterable[str],
                service: str) -> None:
    """TrafficSplit.allocations: "Mapping from version IDs within the service to fractional (0.000, 1]
    allocations of traffic for that version. Each version can be specified only once [...]. Allocations
    must sum to 1. Up to two decimal place precision is supported for IP-based splits and up to three
    decimal places is supported for cookie-based splits." (discovery document; TrafficSplit in
    python-appengine-admin types/service.py). RANDOM splits are weighted like cookie splits (3 places),
    as gcloud rounds them (service_util.ParseTrafficAllocations). Each version "within the service"
    must exist. (A version named twice is refused when the JSON body is read: duplicate map key.)
    """
    if not allocations:
        raise invalid(f"Service {service!r}: the traffic split must allocate traffic to at least one "
                      f"version.", "service.split.allocations")
    decimals = SHARD_DECIMALS.get(shard_by, 2)
    existing = set(existing_versions)
    for version, share in allocations.items():
        field = f"service.split.allocations[{version}]"
        if version not in existing:
            raise invalid(f"Service {service!r} has no version {version!r}: every version in a traffic "
                          f"split must exist.", field)
        if not (share > 0 and share <= 1 + _EPSILON) or math.isnan(share):
            raise invalid(f"Allocation {share!r} for version {version!r} is outside (0, 1]: every "
                          f"allocation must be greater than 0 and at most 1.", field)
        if not decimals_ok(share, decimals):
            raise invalid(f"Allocation {share!r} for version {version!r} has more than {decimals} "
                          f"decimal places, the precision supported for {shard_by}-based splits "
                          f"(2 for IP, 3 for COOKIE and RANDOM).", field)
    total = sum(allocations.values())
    if abs(total - 1) > 1e-6:
        raise invalid(f"Allocations of service {service!r} sum to {round(total, 6)}; they must sum to 1.",
                      "service.split.allocations")


def check_migration(allocations: Mapping[str, float], shard_by: str, versions: Mapping[str, dict],
                    service: str) -> None:
    """migrateTraffic (services.patch): "You must specify the shardBy field in the Service resource.
    Gradual traffic migration is not supported in the App Engine flexible environment." The target
    versions must be configured for warmup requests and automatic scaling (same description; also
    UpdateServiceRequest.migrate_traffic in python-appengine-admin types/appengine.py). A migration
    moves traffic to one version: gcloud refuses ``--migrate`` with more than one split
    ("The migrate flag can only be used with splits to a single version.").
    """
    if shard_by == "UNSPECIFIED":
        raise invalid(f"Service {service!r}: migrating traffic requires split.shardBy (IP, COOKIE or "
                      f"RANDOM).", "service.split.shard_by")
    if len(allocations) != 1:
        raise invalid(f"Service {service!r}: traffic can only be migrated to a single version; the split "
                      f"names {len(allocations)} ({', '.join(sorted(allocations))}).",
                      "service.split.allocations")
    for version in allocations:
        v = versions[version]
        if is_flexible(v):
            raise invalid(f"Version {version!r} of service {service!r} runs in the flexible environment: "
                          f"gradual traffic migration is not supported there.", "migrate_traffic")
        if "INBOUND_SERVICE_WARMUP" not in v.get("inboundServices", []):
            raise ApiError("FAILED_PRECONDITION",
                           f"Version {version!r} of service {service!r} does not enable warmup requests "
                           f"(inboundServices INBOUND_SERVICE_WARMUP): traffic migration needs them.",
                           field="migrate_traffic")
        if "automaticScaling" not in v:
            raise ApiError("FAILED_PRECONDITION",
                           f"Version {version!r} of service {service!r} does not use automatic scaling: "
                           f"traffic migration needs it.", field="migrate_traffic")


def is_flexible(version: Mapping) -> bool:
    """``env`` is "standard" (default) or "flex"/"flexible"; ``vm: true`` is the legacy flexible flag."""
    return version.get("env", "standard") in ("flex", "flexible") or bool(version.get("vm"))


# --- dispatch rules -------------------------------------------------------------------------------

MAX_DISPATCH_RULES = 20
MAX_DISPATCH_LENGTH = 100


def check_dispatch_rules(rules: list[Mapping[str, str]], services: Iterable[str]) -> None:
    """Application.dispatchRules: "Rules are order-dependent. Up to 20 dispatch rules can be supported."
    UrlDispatchRule.path: 'Must start with a "/". A single "*" can be included at the end of the path.
    The sum of the lengths of the domain and path may not exceed 100 characters.' UrlDispatchRule.service:
    "The service must already exist." UrlDispatchRule.domain: 'The wildcard "*" is supported if
    specified before a period: "*.". Defaults to matching all domains: "*".' (discovery document)
    """
    if len(rules) > MAX_DISPATCH_RULES:
        raise invalid(f"{len(rules)} dispatch rules given; at most {MAX_DISPATCH_RULES} are supported.",
                      "application.dispatch_rules")
    known = set(services)
    for i, rule in enumerate(rules):
        field = f"application.dispatch_rules[{i}]"
        domain, path, service = rule.get("domain", "*") or "*", rule.get("path", ""), rule.get("service", "")
        if not path.startswith("/"):
            raise invalid(f"Dispatch rule {i}: path {path!r} must start with '/'.", field + ".path")
        if "*" in path[:-1]:
            raise invalid(f"Dispatch rule {i}: path {path!r} may contain '*' only once, as its last "
                          f"character.", field + ".path")
        if domain != "*" and "*" in domain and not (domain.startswith("*.") and "*" not in domain[1:]):
            raise invalid(f"Dispatch rule {i}: domain {domain!r} may use '*' only as a leading '*.'.",
                          field + ".domain")
        if len(domain) + len(path) > MAX_DISPATCH_LENGTH:
            raise invalid(f"Dispatch rule {i}: domain and path are {len(domain) + len(path)} characters "
                          f"long together; at most {MAX_DISPATCH_LENGTH} are allowed.", field)
        if not service:
            raise invalid(f"Dispatch rule {i}: a target service is required.", field + ".service")
        if service not in known:
            raise invalid(f"Dispatch rule {i}: service {service!r} does not exist; a dispatch rule's "
                          f"service must already exist.", field + ".service")
