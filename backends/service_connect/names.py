"""Names meshspec gives ECS Service Connect's resources."""


def namespace(project: str) -> str:
    """Cloud Map HTTP namespace of the Service Connect backend; apart from the project's DNS namespace
    (``meshspec.infra.naming.namespace``) so both can run side by side during a migration."""
    return f"{project}-service-connect"
