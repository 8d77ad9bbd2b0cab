"""App Mesh in meshspec's stacks: the mesh in the shared stack (with the end-of-support warning), and the backend a
services stack adds its services to (the mesh by name, the project's Cloud Map namespace)."""
from __future__ import annotations

from typing import Any

from aws_cdk import Annotations
from aws_cdk import aws_appmesh as appmesh

from meshspec.infra.spec.model import Spec

from .constructs import END_OF_SUPPORT, AppMeshBackend, Mesh, MeshProps

WARNING_ID = "meshspec:appmesh-end-of-support"
WARNING = (f"App Mesh reached end of support on {END_OF_SUPPORT}: this mesh is generated as the spec "
           "asks, but plan the move to a supported backend (aws.mesh.backend: service-connect or "
           "lattice): `meshspec migrate` with this spec and `--to lattice` prints a zero-downtime plan (see "
           "`meshspec help backends`). "
           "CloudFormation's W3696 for each App Mesh resource is "
           "acknowledged in favour of this one warning.")
W3696 = "CloudFormation-Validate::W3696"
W3696_REASON = ("App Mesh's end of support (2026-09-30) is reported once by meshspec's own synth warning "
                "(meshspec:appmesh-end-of-support) instead of once per App Mesh resource.")


def add_shared(stack: Any, spec: Spec) -> Mesh:
    mesh = Mesh(stack, "Mesh", MeshProps(mesh_name=spec.mesh_name, egress_filter=spec.aws.mesh.egress_filter))
    Annotations.of(mesh).add_warning_v2(WARNING_ID, WARNING)
    return mesh


def mesh_backend(spec: Spec, scope: Any, namespace: Any) -> AppMeshBackend:
    """The mesh is referenced by name (the services stack depends on the shared stack that owns it)."""
    return AppMeshBackend(appmesh.Mesh.from_mesh_name(scope, "Mesh", spec.mesh_name), namespace)
