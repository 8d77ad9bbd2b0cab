"""ECS Service Connect has no weights to shift: an ECS service runs one revision, and traffic moves to a new one
only while ECS deploys it (canary or linear, aws.mesh.deployment). The traffic tools say so instead of failing
with "no backend"."""
from __future__ import annotations

from typing import NoReturn

from meshspec.infra.errors import UserError


def refuse(service: str) -> NoReturn:
    raise UserError(f"{service} runs on ECS Service Connect, which keeps no weights between code versions",
                    hint="give the new version traffic: 100 in the spec and deploy: ECS shifts traffic by "
                         "aws.mesh.deployment (canary or linear) and rolls back on the 5xx alarm; for weights you "
                         "shift yourself, use backend: lattice")
