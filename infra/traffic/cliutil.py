"""Small parsers and wiring shared by ``meshspec traffic`` and ``meshspec canary``."""
from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from meshspec.infra import journal
from meshspec.infra.errors import UserError
from meshspec.infra.spec import Spec, load_spec_or_raise

from .base import Context

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, what: str) -> float:
    """``30s``, ``5m``, ``1h``, ``2d`` → seconds."""
    m = _DURATION.match(text.strip())
    if not m or float(m.group(1)) <= 0:
        raise UserError(f"{what} {text!r} is not a duration", hint="a number and a unit: 30s, 5m, 1h, 2d")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_percent(text: str, what: str) -> float:
    """``1%`` or ``1`` (always a percentage) → 0.01."""
    try:
        value = float(text.strip().rstrip("%"))
    except ValueError:
        raise UserError(f"{what} {text!r} is not a percentage", hint="for example 1% or 0.5%") from None
    if not 0 <= value <= 100:
        raise UserError(f"{what} {text!r} is outside 0% to 100%")
    return value / 100


def add_common(p: argparse.ArgumentParser, service: bool = True) -> None:
    p.add_argument("spec", metavar="SPEC", help="the spec file (YAML)")
    if service:
        p.add_argument("service", metavar="SERVICE", help="a service of the spec")
        p.add_argument("--major", help="the API major (default: the service's only live major)")
    p.add_argument("--state-dir", type=Path,
                   help="journal, canary state and locks (default: $MESHSPEC_STATE_DIR or .meshspec/ beside SPEC)")


def load(args: argparse.Namespace) -> tuple[Spec, Context]:
    spec = load_spec_or_raise(args.spec)
    return spec, Context(state_dir=journal.state_dir(args.state_dir, args.spec))


def cloudwatch(spec: Spec, ctx: Context) -> Any:
    return ctx.aws_client(spec, "cloudwatch")


def metrics_source(spec: Spec, service: str, ctx: Context) -> Any:
    """Where the canary and ``traffic compare`` read per-version figures: App Engine's own series in Cloud
    Monitoring for App Engine services, the mesh backend's own series where it has some, else the metric
    filters' series from the Envoy access log."""
    from meshspec.infra.mesh import registry

    from .backend import platform_of
    from .figures import CloudWatchFigures

    svc = spec.services[service]
    if platform_of(spec, svc) == "appengine":
        from .appengine import app_service_id
        from .cloudmonitoring import CloudMonitoringFigures, MonitoringApi

        if spec.gcp is None:
            raise UserError(f"service {service} runs on App Engine but the spec has no gcp section")
        if ctx.monitoring_api is None:
            ctx.monitoring_api = MonitoringApi()
        return CloudMonitoringFigures(ctx.monitoring_api, spec.gcp.project,
                                      lambda name, major: app_service_id(svc, name, major))
    return registry.primary(spec).metrics_source(spec, service, ctx) or CloudWatchFigures(cloudwatch(spec, ctx))
