"""ECS Service Connect's CDK constructs (:mod:`.deployment`: namespace, canary and linear deployments, the
5xx rollback alarm) and its :class:`~meshspec.constructs_lib.mesh.base.MeshBackend` (:mod:`.binding`). They know
nothing of the spec: names and settings come in as props."""
