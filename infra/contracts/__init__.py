"""API contracts: the files (``contract``), breaking-change rules (``diff``), the check against a base
(``check``) and the three-deploy retirement plan (``retire``)."""
from .check import FileBase, GitBase, compare_specs, consumers, run_check
from .contract import Contract, parse_contract
from .diff import Change, compare
from .findings import Finding, Report
from .retire import RetirePlan, retire_plan

__all__ = ["Change", "Contract", "FileBase", "Finding", "GitBase", "Report", "RetirePlan", "compare",
           "compare_specs", "consumers", "parse_contract", "retire_plan", "run_check"]
