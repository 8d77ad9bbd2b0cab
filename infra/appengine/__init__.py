"""Google App Engine from the spec: desired state, plan, and an apply that converges.

Pure parts (no I/O): :mod:`.state` (data), :mod:`.fractions`, :mod:`.desired`, :mod:`.dispatch`, :mod:`.plan`.
Edges: :mod:`.client` (the Admin API through google-cloud-appengine-admin), :mod:`.apply`, :mod:`.journal`,
:mod:`.smoke`, :mod:`.progress`. The emulator lives in :mod:`.emulator`.
"""
