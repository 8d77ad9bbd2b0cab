"""The mesh backend interface every backend's constructs implement (:mod:`meshspec.constructs_lib.mesh.base`), and
a service on two backends at once during a migration (:mod:`.beside`). The backends live in ``backends/<name>/``."""
from .base import (MajorRoute, MeshBackend, MeshServiceBinding, MeshServiceProps, PodRegistration, PropsError,
                   ProxyRequirements, TrafficRedirect)

__all__ = ["MajorRoute", "MeshBackend", "MeshServiceBinding", "MeshServiceProps", "PodRegistration", "PropsError",
           "ProxyRequirements", "TrafficRedirect"]
