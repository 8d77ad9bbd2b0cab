"""A synth worker: ``python -m meshspec.stacks.worker``, started by ``meshspec.stacks.engine``.

It imports aws-cdk-lib (its own jsii runtime) as soon as it starts, while the parent still reads the spec, then
reads one pickled job on stdin: ``{"part", "stacks", "outdir", "validation"}`` (``part``: the views its stacks
read, ``meshspec.infra.sharding.part``), or None (not needed after all:
exit). It builds and synthesizes its stacks into ``outdir``, reports each stack built as a line ``built NAME``
on stdout, and leaves ``outdir/result.pickle``: (fragments, app fragment), or ``{"error": …}`` for a user error.
"""
from __future__ import annotations

import pickle
import sys
import threading
from pathlib import Path

from meshspec.infra.node import use_project_node
from meshspec.infra.startup import frozen_imports

RESULT = "result.pickle"


def main() -> int:
    use_project_node()  # a process of its own: jsii on the project's Node, as the CLI that started it chose
    with frozen_imports():
        from meshspec.infra.errors import UserError
        from meshspec.stacks.app import skip_jsii_type_checks, synth_part

    skip_jsii_type_checks()
    warming = threading.Thread(target=warm_up, daemon=True)
    warming.start()
    job = pickle.load(sys.stdin.buffer)  # the GIL is free while it waits: the warm-up runs meanwhile
    warming.join()
    if job is None:
        return 0
    out = Path(job["outdir"])

    def built(name: str) -> None:
        print(f"built {name}", flush=True)

    try:
        result = synth_part(job["part"], job["stacks"], str(out), validation=job["validation"], progress=built,
                            release=stop_jsii)
    except UserError as exc:
        result = {"error": exc.message, "hint": exc.hint}
    with (out / RESULT).open("wb") as f:  # streamed: no second copy of the templates in memory
        pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)
    return 0


def warm_up() -> None:
    """Make Node load the aws-cdk-lib modules every meshspec stack uses, while the job is still on its way: Node
    loads a module the first time it is used, about 0.15 s for these, which would otherwise be spent after the
    job came (at one changed service, a quarter of the worker's work). A throwaway app, never synthesized."""
    import aws_cdk as cdk
    from aws_cdk import aws_cloudwatch as cw
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_ecs as ecs
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_logs as logs

    stack = cdk.Stack(cdk.App(), "WarmUp")
    ec2.Port.tcp(80)
    ecs.ContainerImage.from_registry("warm-up")
    iam.ServicePrincipal("ecs-tasks.amazonaws.com")
    logs.LogGroup(stack, "Logs")
    cw.Metric(namespace="WarmUp", metric_name="WarmUp")


def stop_jsii() -> None:
    """End this worker's jsii runtime (its Node process, about 500 MB at 250 stacks) once the assembly is on
    disk: reading the templates back needs no CDK, and the workers' Node processes and their fragments are what
    a synth's peak memory is made of. Should jsii rename its provider's process, the runtime ends at exit as
    before: only the peak is higher."""
    from jsii._runtime import kernel

    process = getattr(getattr(kernel, "provider", None), "_process", None)
    if process is not None and hasattr(process, "stop"):
        process.stop()


if __name__ == "__main__":
    sys.exit(main())
