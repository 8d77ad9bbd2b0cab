"""meshspec's own mesh backends, one package each (``appmesh``, ``service_connect``, ``lattice``).

Each package sets ``BACKEND`` (a :class:`meshspec.infra.mesh.Backend`); the registry
(:mod:`meshspec.infra.mesh.registry`) lists this package to find them, and installed packages add theirs through
the ``meshspec.backends`` entry-point group. Inside a backend's package, the layers are the project's:
``constructs`` imports only aws-cdk-lib, constructs, ``meshspec.constructs_lib`` and the package's pure modules
(``quotas``, ``names``, ``metrics``); ``rules`` and ``settings`` import the spec, never aws-cdk-lib; ``stack``
wires the spec into the constructs; ``traffic`` talks to the cloud at runtime.
"""
