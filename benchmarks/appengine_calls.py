"""Count the App Engine Admin API calls of plan, apply, rerun, promote and rollback, as the emulator sees them.

    .venv/bin/python benchmarks/appengine_calls.py [--services N] [--page-size N]

Expected: a plan reads apps.get once (dispatch rules), services.list once (one paged list: one request per
page) and versions.list once per service the spec touches that already exists; apply sends one write per
planned change; a rerun of an applied spec sends no write. Everything runs offline against the in-process
emulator (operations finish at once, so there are no polls).
"""
from __future__ import annotations

import argparse
import io
import math
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from meshspec.infra.appengine.apply import Options, make_plan, promote, rollback, run_plan  # noqa: E402
from meshspec.infra.appengine.client import AdminApi, ClientConfig  # noqa: E402
from meshspec.infra.appengine.emulator import Emulator  # noqa: E402
from meshspec.infra.appengine.journal import Journal  # noqa: E402
from meshspec.infra.appengine.progress import Progress  # noqa: E402
from meshspec.infra.spec import load_spec_or_raise, load_text  # noqa: E402

READS = ("apps.get", "apps.services.list", "apps.services.versions.list")


def scale_spec(n: int, versions: int, canary: bool = False) -> str:
    lines = ["apiVersion: meshspec/v1", "project: bench", "gcp: {project: bench-app-1, location: us-central}",
             "services:",
             "  default:", "    appengine: {environment: standard, runtime: python312, defaultService: true}",
             "    majors: {v1: {path: /, contract: c.json}}",
             "    versions: [{name: d1, source: gs://bench-builds/d1.zip, traffic: 100}]"]
    for i in range(n):
        shares = [100 // versions] * versions
        shares[0] += 100 - sum(shares)
        if canary:
            shares = [0] * (versions - 1) + [100]
        lines += [f"  svc-{i:02d}:", "    appengine: {environment: standard, runtime: python312, splitBy: random}",
                  "    majors: {v1: {contract: c.json}}", "    versions:"]
        lines += [f"      - {{name: v{j}, source: gs://bench-builds/s{i}-v{j}.zip, traffic: {shares[j]}}}"
                  for j in range(versions)]
    return "\n".join(lines) + "\n"


class Bench:
    def __init__(self, emu: Emulator, state: str):
        self.emu = emu
        self.api = AdminApi(ClientConfig(endpoint=emu.url, poll_initial=0.01, poll_maximum=0.05))
        self.journal = Journal(state)
        self.rows: list[tuple] = []

    def measure(self, label: str, fn) -> object:
        self.emu.clear_calls()
        out = fn()
        reads = {m: self.emu.count(m) for m in READS}
        changes = len(out.plan.actions) if hasattr(out, "plan") else len(out.actions)
        self.rows.append((label, reads["apps.get"], reads["apps.services.list"], reads["apps.services.versions.list"],
                          self.emu.count(writes=True), changes))
        return out

    def plan(self, spec):
        return make_plan(self.api, spec)[2]

    def apply(self, spec):
        desired, observed, p = make_plan(self.api, spec)
        return run_plan(self.api, p, observed, desired, self.journal, Progress(io.StringIO(), interactive=False),
                        Options())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--services", type=int, default=15, help="App Engine services in the scale case (default 15)")
    ap.add_argument("--versions", type=int, default=3, help="versions per service in the scale case (default 3)")
    ap.add_argument("--page-size", type=int, default=5, help="the emulator's default page size (default 5)")
    args = ap.parse_args()
    quiet = Progress(io.StringIO(), interactive=False)

    shop = load_spec_or_raise(ROOT / "examples" / "shop.yaml")
    shop_text = (ROOT / "examples" / "shop.yaml").read_text()
    canary_text = shop_text.replace("traffic: 90", "traffic: 50").replace("traffic: 10\n", "traffic: 50\n")
    canary = load_text(canary_text, file="shop-50-50.yaml", base_dir=ROOT / "examples").spec
    scale = load_text(scale_spec(args.services, args.versions), file="scale.yaml").spec
    scale_canary = load_text(scale_spec(args.services, args.versions, canary=True), file="scale.yaml").spec

    with Emulator(project=shop.gcp.project, page_size=args.page_size) as emu, tempfile.TemporaryDirectory() as st:
        b = Bench(emu, st)
        b.measure("shop: plan (new app)", lambda: b.plan(shop))
        b.measure("shop: apply", lambda: b.apply(shop))
        b.measure("shop: plan again", lambda: b.plan(shop))
        b.measure("shop: apply again", lambda: b.apply(shop))
        b.measure("shop: apply 50/50 canary", lambda: b.apply(canary))
        b.measure("shop: promote user-service banana",
                  lambda: promote(b.api, shop.gcp.project, "user-service", "banana", b.journal, quiet))
        b.measure("shop: rollback user-service", lambda: rollback(b.api, shop.gcp.project, "user-service",
                                                                  b.journal, quiet))
        shop_rows = b.rows

    with Emulator(project="bench-app-1", page_size=args.page_size) as emu, tempfile.TemporaryDirectory() as st:
        b = Bench(emu, st)
        b.measure(f"scale {args.services}x{args.versions}: apply (new app)", lambda: b.apply(scale))
        b.measure(f"scale {args.services}x{args.versions}: plan again", lambda: b.plan(scale))
        b.measure(f"scale {args.services}x{args.versions}: apply again", lambda: b.apply(scale))
        b.measure(f"scale {args.services}x{args.versions}: all to newest", lambda: b.apply(scale_canary))
        scale_rows = b.rows

    head = ("case", "apps.get", "services.list", "versions.list", "writes", "planned changes")
    rows = shop_rows + scale_rows
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    pages = math.ceil((args.services + 1) / args.page_size)
    print(f"\npage size {args.page_size}: one paged services.list of {args.services + 1} services is {pages} "
          f"request(s); one paged versions.list of {args.versions} versions is "
          f"{math.ceil(args.versions / args.page_size)} request(s) per touched service.")
    # plans write nothing; everything else writes exactly its planned changes
    bad = [r for r in rows if r[4] != (0 if ": plan" in r[0] else r[5])]
    if bad:
        print(f"MISMATCH: writes differ from planned changes in {[r[0] for r in bad]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
