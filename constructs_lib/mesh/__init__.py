"""Mesh backends behind one interface (:mod:`meshspec.constructs_lib.mesh.base`)."""
from .base import MajorRoute, MeshBackend, MeshServiceBinding, MeshServiceProps, PropsError, ProxyRequirements

__all__ = ["MajorRoute", "MeshBackend", "MeshServiceBinding", "MeshServiceProps", "PropsError", "ProxyRequirements"]
