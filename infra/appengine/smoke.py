"""Smoke check: call a version at its own address before traffic moves to it.

App Engine serves every version at ``https://VERSION-dot-SERVICE-dot-APP_HOST`` whatever the split says
(cloud.google.com/appengine/docs/standard/how-requests-are-routed), which exists for exactly this.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import requests

URL_ENV = "MESHSPEC_SMOKE_URL"
DEFAULT_TEMPLATE = "https://{version}-dot-{service}-dot-{host}"


@dataclass(frozen=True)
class SmokeResult:
    url: str
    ok: bool
    detail: str


def base_url(version: str, service: str, app_id: str, default_hostname: str = "", template: str | None = None) -> str:
    """The version's own address; ``template`` (or $MESHSPEC_SMOKE_URL) may use {version} {service} {app} {host}."""
    template = template or os.environ.get(URL_ENV) or DEFAULT_TEMPLATE
    host = default_hostname or f"{app_id}.appspot.com"
    return template.format(version=version, service=service, app=app_id, host=host).rstrip("/")


def url_for(base: str, prefix: str, health: str) -> str:
    """base + the major's path prefix + the health path: ``…/user-service/v2/healthz``."""
    return base + prefix.rstrip("/") + health


def check(url: str, *, timeout: float = 10.0, attempts: int = 3, pause: float = 1.0, session=None) -> SmokeResult:
    """GET ``url``; a 2xx answer passes. Connection failures and 5xx are tried ``attempts`` times (cold start)."""
    http = session or requests
    detail = ""
    for i in range(attempts):
        try:
            resp = http.get(url, timeout=timeout, allow_redirects=False)
        except requests.RequestException as exc:
            detail = f"no answer ({type(exc).__name__})"
        else:
            if 200 <= resp.status_code < 300:
                return SmokeResult(url, True, f"HTTP {resp.status_code}")
            detail = f"HTTP {resp.status_code}"
            if resp.status_code < 500:
                break
        if i + 1 < attempts:
            time.sleep(pause)
    return SmokeResult(url, False, detail)
