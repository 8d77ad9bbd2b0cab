"""VPC Lattice's CDK constructs (:mod:`.service`: service network, service, target groups, rules, auth policy,
ECS targets, access-log queries) and its :class:`~meshspec.constructs_lib.mesh.base.MeshBackend` (:mod:`.binding`).
They know nothing of the spec: names and settings come in as props."""
