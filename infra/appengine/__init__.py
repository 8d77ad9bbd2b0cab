"""Google App Engine: planning and applying from the spec, and a local Admin API v1 emulator.

Pure parts (no I/O): :mod:`.state` (data), :mod:`.fractions`, :mod:`.desired`, :mod:`.dispatch`, :mod:`.plan`.
Edges: :mod:`.client` (the Admin API through google-cloud-appengine-admin), :mod:`.apply`, :mod:`.journal`,
:mod:`.smoke`, :mod:`.progress`. The emulator lives in :mod:`.emulator`.
"""
