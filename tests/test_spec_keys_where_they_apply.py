"""Every message validate gives for ECS on EC2 and for a key written where it does nothing: one spec per problem,
the whole rendered message checked (file, line, key path, given, allowed)."""
from __future__ import annotations

import pytest

from meshspec.infra.spec import load_text

from .conftest import TODAY

HEAD = """\
apiVersion: meshspec/v1
project: shop
aws:
  region: eu-west-1
  account: '111122223333'
  clusters:
    - {{name: core, platform: ecs{core}}}
    - {{name: ml, platform: eks{ml}}}
gcp: {{project: shop-prod-4711, location: europe-west}}
services:
  front:
    appengine: {{environment: standard, runtime: nodejs22, defaultService: true}}
    majors: {{v1: {{contract: c.json, path: /}}}}
    versions: [{{name: f-1, source: gs://bkt/f.zip, traffic: 100}}]{front}
  api:
    cluster: {cluster}
    majors: {{v1: {{contract: c.json}}}}
    versions: [{{name: a-1, image: img/api:1, traffic: 100}}]{api}
"""


def spec(core: str = "", ml: str = "", api: str = "", front: str = "", cluster: str = "core") -> str:
    return HEAD.format(core=core, ml=ml, api=api, front=front, cluster=cluster)


def rendered(text: str, severity: str = "error") -> list[str]:
    result = load_text(text, file="spec.yaml", today=TODAY)
    return [e.render() for e in result.problems if e.severity == severity]


@pytest.mark.parametrize("core, ml, line", [
    (", minCapacity: 2", "", "spec.yaml:7:48: error: aws.clusters[0].minCapacity: minCapacity applies to ECS clusters "
     "with EC2 capacity; cluster core offers only fargate (given: 2; allowed: minCapacity with platform: ecs and "
     "capacity: ec2 (or a list with ec2), or leave it out)"),
    ("", ", maxCapacity: 3", "spec.yaml:8:46: error: aws.clusters[1].maxCapacity: maxCapacity applies to ECS clusters "
     "with EC2 capacity; an EKS cluster (Auto Mode compute) (given: 3; allowed: maxCapacity with platform: ecs and "
     "capacity: ec2 (or a list with ec2), or leave it out)"),
    (", eniTrunking: false", "", "spec.yaml:7:48: error: aws.clusters[0].eniTrunking: eniTrunking applies to ECS "
     "clusters with EC2 capacity; cluster core offers only fargate (given: false; allowed: eniTrunking with platform: "
     "ecs and capacity: ec2 (or a list with ec2), or leave it out)"),
    (", instanceType: c6i.large", "", "spec.yaml:7:49: error: aws.clusters[0].instanceType: instanceType applies to "
     "ECS clusters with EC2 capacity; cluster core offers only fargate (given: 'c6i.large'; allowed: instanceType "
     "with platform: ecs and capacity: ec2 (or a list with ec2), or leave it out)"),
    (", kubernetesVersion: '1.33'", "", "spec.yaml:7:54: error: aws.clusters[0].kubernetesVersion: kubernetesVersion "
     "applies to EKS clusters; this cluster runs ECS (given: '1.33'; allowed: kubernetesVersion with platform: eks, "
     "or leave it out)"),
])
def test_a_cluster_key_written_where_it_does_nothing_is_refused_there(core, ml, line):
    assert rendered(spec(core=core, ml=ml)) == [line]


def test_an_unknown_instance_type_is_refused_with_the_known_ones():
    (line,) = rendered(spec(core=", capacity: ec2, instanceType: z9.mega"))
    assert line.startswith("spec.yaml:7:64: error: aws.clusters[0].instanceType: meshspec does not know the instance "
                           "type z9.mega: it cannot check that tasks fit its CPU, memory and network interfaces "
                           "(given: 'z9.mega'; allowed: c5, c6i, c6a, c7i, m5, m6i, m6a, m7i, r5, r6i, r6a, r7i, c6g, "
                           "c7g, m6g, m7g, r6g, r7g in sizes large/xlarge/2xlarge/4xlarge; "
                           "t3.medium/large/xlarge/2xlarge)")
    assert line.endswith("hint: choose one of these; the table, its sources and how to add a type: "
                         "`meshspec help aws`")


def test_capacity_written_twice_in_the_list_is_refused():
    (line,) = rendered(spec(core=", capacity: [ec2, ec2]"))
    assert line == ("spec.yaml:7:45: error: aws.clusters[0].capacity: capacity lists a capacity twice (given: "
                    "['ec2', 'ec2']; allowed: fargate, ec2, or [ec2, fargate] / [fargate, ec2])")


@pytest.mark.parametrize("kwargs, line", [
    ({"api": "\n    capacity: ec2"}, "spec.yaml:19:15: error: services.api.capacity: cluster core does not offer ec2 "
     "capacity (given: 'ec2'; allowed: fargate)\n    hint: add ec2 to aws.clusters[0].capacity (e.g. capacity: "
     "[fargate, ec2])"),
    ({"api": "\n    capacity: fargate"}, "spec.yaml:19:15: error: services.api.capacity: capacity chooses between a "
     "cluster's capacities; cluster core offers only fargate, where the service runs anyway (given: 'fargate'; "
     "allowed: capacity on a service whose cluster offers [ec2, fargate], or leave it out)"),
    ({"api": "\n    capacity: fargate", "cluster": "ml"}, "spec.yaml:19:15: error: services.api.capacity: capacity "
     "applies to services on ECS clusters; its cluster 'ml' runs EKS (Auto Mode compute) (given: 'fargate'; allowed: "
     "capacity on a service whose cluster has platform: ecs, or leave it out)"),
    ({"front": "\n    capacity: ec2"}, "spec.yaml:15:15: error: services.front.capacity: capacity applies to services "
     "on ECS clusters; it runs on App Engine (given: 'ec2'; allowed: capacity on a service whose cluster has "
     "platform: ecs, or leave it out)"),
])
def test_a_service_capacity_the_cluster_does_not_offer_or_cannot_choose_is_refused(kwargs, line):
    assert rendered(spec(**kwargs)) == [line]


@pytest.mark.parametrize("key, value, why", [
    ("port", "9000", "routes to the port its runtime listens on ($PORT)"),
    ("protocol", "grpc", "serves HTTP(S) through its own front end, outside the mesh"),
    ("cpu", "512", "sizes instances by instance class and scaling settings, which meshspec does not send"),
    ("memory", "1024", "sizes instances by instance class and scaling settings, which meshspec does not send"),
    ("desiredCount", "3", "scales versions itself (meshspec sends no scaling settings)"),
    ("logRetentionDays", "14", "logs to Cloud Logging, not to a CloudWatch log group"),
])
def test_an_aws_only_key_on_app_engine_is_refused_there(key, value, why):
    (line,) = rendered(spec(front=f"\n    {key}: {value}"))
    given = f"'{value}'" if key == "protocol" else value
    assert line == (f"spec.yaml:15:{7 + len(key)}: error: services.front.{key}: {key} applies to services on AWS "
                    f"clusters; front runs on App Engine, which {why} (given: {given}; allowed: leave {key} out on "
                    "App Engine, or run the service on an AWS cluster)")


def test_secrets_on_app_engine_are_refused_and_not_shown():
    (line,) = rendered(spec(front="\n    secrets: {DB_PASSWORD: projects/p/secrets/db}"))
    assert line == ("spec.yaml:15:14: error: services.front.secrets: secrets applies to services on AWS clusters; "
                    "front runs on App Engine, which takes no secret references in a version (given: a reference "
                    "(not shown); allowed: leave secrets out on App Engine, or run the service on an AWS cluster)\n"
                    "    hint: read secrets from Secret Manager in the app (its service account needs "
                    "roles/secretmanager.secretAccessor)")
    assert "projects/p/secrets/db" not in line


def test_log_retention_per_service_takes_only_cloudwatch_values():
    (line,) = rendered(spec(api="\n    logRetentionDays: 2"))
    assert line == ("spec.yaml:19:23: error: services.api.logRetentionDays: CloudWatch Logs takes only 1, 3, 5, 7, 14, "
                    "30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 days "
                    "(given: 2; allowed: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, "
                    "2192, 2557, 2922, 3288, 3653)")


EC2 = ", capacity: ec2, instanceType: c6i.large"


@pytest.mark.parametrize("api, line", [
    ("\n    cpu: 128\n    memory: 512", "spec.yaml:19:10: error: services.api.cpu: a task on EC2 needs at least 256 "
     "CPU units (the app and its sidecars) (given: 128; allowed: at least 256)"),
    ("\n    cpu: 256\n    memory: 300", "spec.yaml:20:13: error: services.api.memory: a task on EC2 needs at least "
     "512 MiB (the app and its sidecars) (given: 300; allowed: at least 512)"),
    ("\n    cpu: 4096\n    memory: 1024", "spec.yaml:19:10: error: services.api.cpu: the task does not fit cluster "
     "core's instances: c6i.large offers 2 vCPU (2048 CPU units) and 4096 MiB, about 3676 MiB of it to tasks "
     "(given: 4096; allowed: at most 2048 CPU units)\n    hint: a larger instanceType, or fewer CPU units"),
    ("\n    cpu: 1024\n    memory: 4096", "spec.yaml:20:13: error: services.api.memory: the task does not fit cluster "
     "core's instances: c6i.large offers 2 vCPU (2048 CPU units) and 4096 MiB, about 3676 MiB of it to tasks "
     "(ECS_RESERVED_MEMORY 256 MiB and the kernel's share kept back) (given: 4096; allowed: at most 3676 MiB)\n"
     "    hint: a larger instanceType, or less memory"),
])
def test_a_task_that_does_not_fit_the_instance_type_is_refused_with_its_figures(api, line):
    assert rendered(spec(core=EC2, api=api)) == [line]


def test_ec2_takes_sizes_fargate_does_not():
    assert rendered(spec(core=EC2, api="\n    cpu: 300\n    memory: 700")) == []


def test_tasks_beyond_the_capacity_are_refused_with_the_network_interfaces():
    text = spec(core=f"{EC2}, maxCapacity: 2, eniTrunking: false", api="\n    desiredCount: 5")
    (line,) = rendered(text)
    assert line == ("spec.yaml:7:88: error: aws.clusters[0].maxCapacity: 2 × c6i.large cannot run the 5 tasks (1280 "
                    "CPU units, 2560 MiB) of api: each instance holds 2 awsvpc tasks without ENI trunking; c6i.large "
                    "offers 2 vCPU (2048 CPU units) and 4096 MiB, about 3676 MiB of it to tasks (given: 2; allowed: "
                    "at least 3)\n    hint: raise maxCapacity, choose a larger instanceType, or run fewer tasks")
    assert rendered(spec(core=f"{EC2}, maxCapacity: 2", api="\n    desiredCount: 5")) == []  # trunking: 10 each


def test_a_deployment_that_must_wait_for_room_warns():
    text = spec(core=f"{EC2}, maxCapacity: 1", api="\n    desiredCount: 5")
    assert rendered(text) == []
    (line,) = rendered(text, "warning")
    assert line == ("spec.yaml:7:88: warning: aws.clusters[0].maxCapacity: a deployment of all 5 tasks (1280 CPU "
                    "units, 2560 MiB) of api at once starts up to 200 % of the tasks before old ones stop; 1 × "
                    "c6i.large hold 10 tasks, so ECS waits for room (slower deployments) (given: 1; allowed: 2 for "
                    "deployments without waiting)")


def test_a_sunset_on_an_active_major_is_refused():
    text = spec(api="").replace("majors: {v1: {contract: c.json}}\n    versions: [{name: a-1",
                                "majors: {v1: {contract: c.json, sunset: 2027-01-01}}\n    versions: [{name: a-1")
    (line,) = rendered(text)
    assert line == ("spec.yaml:17:45: error: services.api.majors.v1.sunset: a sunset date only takes effect on a "
                    "deprecated major; v1 is active (given: '2027-01-01'; allowed: sunset with status: deprecated)\n"
                    "    hint: set status: deprecated on v1, or remove sunset")


MESH = """\
apiVersion: meshspec/v1
project: shop
aws:
  region: eu-west-1
  clusters: [{{name: core, platform: ecs}}]
  mesh: {{{mesh}}}
services:
  api:
    cluster: core
    majors: {{v1: {{contract: c.json}}}}
    versions: [{{name: a-1, image: img/api:1, traffic: 100}}]
"""


def test_a_mesh_name_on_service_connect_is_refused():
    (line,) = rendered(MESH.format(mesh="backend: service-connect, name: shop-mesh"))
    assert line == ("spec.yaml:6:42: error: aws.mesh.name: name applies to backend: appmesh (the mesh) and lattice "
                    "(the service network); service-connect's namespace is named after the project "
                    "(shop-service-connect) (given: 'shop-mesh'; allowed: backend: appmesh or lattice, or leave name "
                    "out)")


def test_a_lattice_certificate_without_an_https_service_is_refused():
    cert = "arn:aws:acm:eu-west-1:111122223333:certificate/0a1b"
    (line,) = rendered(MESH.format(mesh=f"backend: lattice, certificateArn: '{cert}'"))
    assert line == ("spec.yaml:6:44: error: aws.mesh.certificateArn: certificateArn is presented by the HTTPS "
                    "listeners of http2 and grpc services; no service on AWS has one (given: a certificate ARN; "
                    "allowed: certificateArn with an http2 or grpc service on AWS, or leave it out)")


def test_an_eks_service_on_app_mesh_without_an_account_is_refused_before_synth():
    # found by tests/test_synth_property.py: it validated, then synth failed on the manifests
    text = MESH.format(mesh="backend: appmesh").replace("name: core, platform: ecs", "name: core, platform: eks")
    (line,) = rendered(text)
    assert line == ("spec.yaml:4:3: error: aws: api on EKS with App Mesh need aws.account: each pod's Envoy names its "
                    "virtual node's ARN in the Kubernetes manifests meshspec writes (given: no account "
                    "(environment-agnostic stacks); allowed: aws.account: the 12-digit account)\n"
                    "    hint: set aws.account, or use backend: lattice, whose EKS pods need no ARN in their manifests")
    assert rendered(text.replace("  region: eu-west-1\n", "  region: eu-west-1\n  account: '111122223333'\n")) == []


def test_a_capacity_that_is_neither_fargate_nor_ec2_is_refused():
    (line,) = rendered(spec(core=", capacity: gpu"))
    assert line == ("spec.yaml:7:45: error: aws.clusters[0].capacity: capacity is fargate, ec2 or a list of both "
                    "(given: 'gpu'; allowed: fargate, ec2, [ec2, fargate] or [fargate, ec2])")
