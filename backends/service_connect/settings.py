"""ECS Service Connect's keys under ``aws.mesh``: how ECS moves traffic to a new code version."""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from meshspec.infra.spec.base import SpecModel

from .quotas import MAX_WAIT_MINUTES


class Deployment(SpecModel):
    """How ECS moves traffic to a new code version on the service-connect backend.

    ECS's own canary and linear strategies (deployment controller ECS); limits from the ECS API reference
    (CanaryConfiguration, LinearConfiguration, DeploymentConfiguration.bakeTimeInMinutes).
    """

    strategy: Literal["canary", "linear"] = Field(
        "canary", description="canary: one step of `percent`, then the rest; linear: equal steps of `percent`. "
                              "Default: canary.")
    percent: Decimal | None = Field(
        None, examples=[25], description="Canary: share of traffic in the canary step (0.1 to 100, in tenths). Linear: the step "
                    "(3 to 100). Default: 5 for canary, 10 for linear.")
    step_minutes: int = Field(
        10, ge=0, le=MAX_WAIT_MINUTES, description="Minutes to wait after the canary step, or between linear steps. Default: 10.")
    bake_minutes: int = Field(
        10, ge=0, le=MAX_WAIT_MINUTES, description="Minutes both revisions keep running after all traffic moved, so a "
                                       "rollback is instant. Default: 10.")
    rollback_on_alarm: bool = Field(
        True, description="Roll back when the service's 5xx alarm fires during the deployment. Default: true.")

    @field_validator("percent", mode="plain",
                     json_schema_input_type=Annotated[float, Field(ge=0.1, le=100)] | None)
    @classmethod
    def _percent(cls, v: object) -> Decimal | None:
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float, Decimal)):
            raise PydanticCustomError("percent_type", "percent must be a number from 0.1 to 100",
                                      {"allowed": "0.1-100"})
        d = Decimal(str(v))
        if d < Decimal("0.1") or d > 100:
            raise PydanticCustomError("percent_range", "percent must be between 0.1 and 100",
                                      {"allowed": "0.1-100"})
        return d

    @property
    def effective_percent(self) -> Decimal:
        if self.percent is not None:
            return self.percent
        return Decimal(5) if self.strategy == "canary" else Decimal(10)


def settings() -> dict[str, tuple[Any, Any]]:
    return {"deployment": (Deployment | None, Field(
        None, description="service-connect only: how ECS shifts traffic to a new code version. "
                          "Default: canary, 5 % for 10 minutes, bake 10 minutes, rollback on the 5xx alarm."))}


def deployment_of(spec: Any) -> Deployment:
    """The spec's deployment, or the default one."""
    return spec.aws.mesh.deployment or Deployment()
