"""Google App Engine: planning and applying from the spec, and a local Admin API v1 emulator."""
