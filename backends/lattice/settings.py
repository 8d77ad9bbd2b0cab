"""VPC Lattice's keys under ``aws.mesh``."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

CertificateArn = Annotated[str, StringConstraints(
    pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+$")]


def settings() -> dict[str, tuple[Any, Any]]:
    return {"certificate_arn": (CertificateArn | None, Field(
        None, description="lattice only: an ACM certificate for *.<project>.lattice.internal, so the HTTPS "
                          "listeners of http2 and grpc services answer on their custom names (Lattice's own "
                          "certificate covers only its generated names). Default: none."))}
