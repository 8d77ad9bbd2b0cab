"""The base every spec model derives from, apart from :mod:`.model` so a mesh backend's settings (its keys under
``aws.mesh``, declared in its own package) use it while the model that takes them is being built."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class SpecModel(BaseModel):
    """Frozen; YAML keys are camelCase, Python attributes snake_case; unknown keys are refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)
