"""meshspec's documentation, installed as ``meshspec.docs`` so that ``meshspec help TOPIC`` reads it (setup.py)."""
