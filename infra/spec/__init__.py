"""The meshspec spec: model, loader and checks. Everything else in meshspec reads a :class:`Spec`."""
from .errors import SpecError, SpecInvalid, format_path
from .loader import LoadResult, load_spec, load_spec_or_raise, load_text
from .model import API_VERSION, Spec, live_majors, major_path, shares

__all__ = ["API_VERSION", "LoadResult", "Spec", "SpecError", "SpecInvalid", "format_path", "live_majors",
           "load_spec", "load_spec_or_raise", "load_text", "major_path", "shares"]
