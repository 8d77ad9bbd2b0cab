"""A local App Engine Admin API v1, faithful to Google's discovery document and documented refusals.

Python API (the whole of it; details in docs/appengine-emulator.md)::

    from meshspec.infra.appengine.emulator import Emulator
    with Emulator(project="demo", operation_delay=0.0) as emu:   # free port on 127.0.0.1
        emu.url                       # http://127.0.0.1:PORT, for client_options={"api_endpoint": ...}
        c = emu.clients()             # c.applications / c.services / c.versions: the real client, REST
        emu.seed_version("default", "v1")             # state without going through the API
        emu.seed_split("default", {"v1": 1}, "IP"); emu.seed_dispatch([...])
        emu.add_fault("error", method="apps.services.patch", status=503, times=1)
        emu.calls, emu.count("apps.services.list"), emu.count(writes=True), emu.refusals()
        emu.snapshot(); emu.reset(); emu.operation_delay = 0.5
"""
from .faults import Fault
from .rules import ApiError
from .server import DEFAULT_LOCATION, DEFAULT_PROJECT, Call, Emulator

__all__ = ["ApiError", "Call", "DEFAULT_LOCATION", "DEFAULT_PROJECT", "Emulator", "Fault"]
