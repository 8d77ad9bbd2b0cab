"""App Mesh as the backend a migration moves off (``meshspec migrate``): what its steps say of it."""
from __future__ import annotations

from meshspec.infra.migrate import Edit, Host
from meshspec.infra.spec.model import Spec

from .quotas import END_OF_SUPPORT


class AppMeshHost(Host):
    title = "App Mesh"

    def beside_why(self) -> str:
        return ("the new backend's resources come up next to App Mesh's under their own names; every caller still "
                "goes through its Envoy sidecar, so nothing changes for traffic yet")

    def retire_edits(self, spec: Spec) -> list[Edit]:
        """egressFilter means nothing once App Mesh is gone (validate would refuse it)."""
        return [Edit("aws.mesh.egressFilter", "remove")] if "egress_filter" in spec.aws.mesh.model_fields_set else []

    def retire_why(self) -> str:
        return "no caller uses App Mesh any more; its mesh, virtual nodes, routers, routes and Envoy sidecars go"

    def retire_effect(self) -> tuple[str, ...]:
        return ("the service stacks first: their virtual nodes, routers, routes and App Mesh tasks go (App Mesh "
                "deletes a mesh only once it is empty, and the shared stack that owns it deploys before them)",
                "then the shared stack deletes the mesh")

    def retire_verify(self) -> tuple[str, ...]:
        return ("App Mesh carried no request for a full day before this step (Envoy RequestCount at 0)",
                "after the deploy: no AWS::AppMesh::* resource left in the stacks")

    def retire_rollback(self) -> str:
        return (f"none by a switch: App Mesh reached end of support on {END_OF_SUPPORT}, so recreating it is not a "
                "supported path; stay at the previous step until you are sure")
