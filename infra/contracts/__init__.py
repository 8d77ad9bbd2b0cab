"""API contracts: the files (``contract`` for JSON Schema, ``openapi`` for OpenAPI 3.0/3.1, ``documents`` for
both), breaking-change rules (``diff``, ``openapi_diff``), what validate checks (``rules``), the check against a
base (``check``) and the three-deploy retirement plan (``retire``)."""
from .check import FileBase, GitBase, compare_specs, consumers, run_check
from .contract import Contract, parse_contract
from .diff import Change, compare
from .documents import Op, load_contract, operations
from .findings import Finding, Report
from .openapi import OpenAPIContract, load_openapi
from .openapi_diff import OpChange, compare_openapi
from .retire import RetirePlan, retire_plan

__all__ = ["Change", "Contract", "FileBase", "Finding", "GitBase", "Op", "OpChange", "OpenAPIContract", "Report",
           "RetirePlan", "compare", "compare_openapi", "compare_specs", "consumers", "load_contract", "load_openapi",
           "operations", "parse_contract", "retire_plan", "run_check"]
