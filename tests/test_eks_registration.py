"""EKS pods join the mesh: the registrar sidecar (pure render, GIVEN / WHEN / THEN), the pod role's permissions and
identity per backend, and the sidecar's own shell script run for real (the AWS CLI against moto in server mode)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from typing import Any, Callable

import boto3
import pytest
from aws_cdk import aws_appmesh as appmesh
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_servicediscovery as sd
from aws_cdk.assertions import Match

from meshspec.constructs_lib.eks import EksCluster, EksClusterProps, KubernetesWorkload, KubernetesWorkloadProps, WorkloadVersion
from meshspec.backends.appmesh.registrar import CLOUD_MAP_REGISTRAR
from meshspec.backends.lattice.registrar import TARGET_GROUP_REGISTRAR
from meshspec.constructs_lib.eks.registration import (REGISTRAR_CONTAINER, REGISTRAR_IMAGE, Registrar, add_registrar,
                                                      render_registrar)
from meshspec.constructs_lib.errors import PropsError as ConstructPropsError
from meshspec.backends.appmesh.constructs import AppMeshBackend
from meshspec.constructs_lib.mesh.base import MajorRoute, MeshServiceProps, PodRegistration, PropsError
from meshspec.constructs_lib.mesh.beside import BesideBinding
from meshspec.backends.lattice.constructs.binding import LatticeBackend
from tests.cdk_support import stack, template

from .lattice_support import install_targets_shim
from .traffic_support import REGION, aws, moto_server  # noqa: F401

install_targets_shim()

CLOUDMAP = PodRegistration(environment={"AWS_REGION": "eu-west-1", "MESHSPEC_CLOUDMAP_NAMESPACE": "shop.local",
                                        "MESHSPEC_CLOUDMAP_SERVICE": "rec-r-3"}, policy_statements=(),
                           parts=(CLOUD_MAP_REGISTRAR,))
LATTICE = PodRegistration(environment={"AWS_REGION": "eu-west-1", "MESHSPEC_LATTICE_TARGET_GROUP": "shop-rec-r-3",
                                       "MESHSPEC_LATTICE_PORT": "8080"}, policy_statements=(),
                          role_tags={"meshspec:service": "rec"}, parts=(TARGET_GROUP_REGISTRAR,))
# What the stacks give every pod: the parts of every installed backend, so the script is the same everywhere.
ALL_PARTS = (CLOUD_MAP_REGISTRAR, TARGET_GROUP_REGISTRAR)
SCRIPT = Registrar(ALL_PARTS).script()


# -- the sidecar, pure --------------------------------------------------------------------------------------
def test_registrar_takes_literals_from_the_backend_and_the_pod_from_the_downward_api():
    c = render_registrar(CLOUDMAP, parts=ALL_PARTS)
    assert c["name"] == REGISTRAR_CONTAINER and c["image"] == REGISTRAR_IMAGE
    assert c["command"] == ["/bin/sh", "-c", SCRIPT]
    assert c["env"] == [
        {"name": "AWS_REGION", "value": "eu-west-1"},
        {"name": "MESHSPEC_CLOUDMAP_NAMESPACE", "value": "shop.local"},
        {"name": "MESHSPEC_CLOUDMAP_SERVICE", "value": "rec-r-3"},
        {"name": "MESHSPEC_INTERVAL_SECONDS", "value": "30"},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]


def test_add_registrar_lets_the_other_containers_drain_before_they_stop():
    # GIVEN a pod with an app and an Envoy / WHEN the registrar is added
    pod = {"containers": [{"name": "app"}, {"name": "envoy"}]}
    add_registrar(pod, LATTICE, drain_seconds=20)
    # THEN the app and Envoy sleep in preStop while the registrar deregisters, within the grace period
    assert [c["name"] for c in pod["containers"]] == ["app", "envoy", REGISTRAR_CONTAINER]
    assert [c.get("lifecycle") for c in pod["containers"]] == [
        {"preStop": {"sleep": {"seconds": 20}}}, {"preStop": {"sleep": {"seconds": 20}}}, None]
    assert pod["terminationGracePeriodSeconds"] == 50


def test_registrar_bypasses_the_proxy_as_its_ignored_user():
    # GIVEN a meshed pod whose Envoy intercepts every user's traffic but 1337's / WHEN the registrar is added
    pod = add_registrar({"containers": [{"name": "app"}]}, CLOUDMAP, run_as_user=1337)
    registrar = pod["containers"][-1]
    # THEN its AWS API calls skip Envoy (whose egress filter would drop them), with a writable home
    assert registrar["securityContext"] == {"runAsUser": 1337}
    assert {"name": "HOME", "value": "/tmp"} in registrar["env"]


def test_add_registrar_without_a_registration_changes_nothing():
    pod = {"containers": [{"name": "app"}]}
    assert add_registrar(pod, None) == {"containers": [{"name": "app"}]}


@pytest.mark.parametrize(("environment", "message"), [
    ({"MESHSPEC_CLOUDMAP_SERVICE": "a", "MESHSPEC_CLOUDMAP_NAMESPACE": "n", "X": "1"},
     r"the registrar does not read \['X'\]"),
    ({"AWS_REGION": "eu-west-1"}, "names neither MESHSPEC_CLOUDMAP_SERVICE nor MESHSPEC_LATTICE_TARGET_GROUP"),
    ({"MESHSPEC_CLOUDMAP_SERVICE": "a"}, "MESHSPEC_CLOUDMAP_SERVICE needs MESHSPEC_CLOUDMAP_NAMESPACE"),
    ({"MESHSPEC_LATTICE_TARGET_GROUP": "tg"}, "MESHSPEC_LATTICE_TARGET_GROUP needs MESHSPEC_LATTICE_PORT"),
])
def test_fails_when_a_registration_cannot_be_carried_out(environment, message):
    with pytest.raises(ConstructPropsError, match=message):
        render_registrar(PodRegistration(environment=environment, policy_statements=()), parts=ALL_PARTS)


def test_script_holds_only_the_parts_it_is_given():
    # GIVEN only App Mesh's part (a pod built without the stacks) / WHEN its registrar is rendered
    script = render_registrar(CLOUDMAP)["command"][-1]
    # THEN it speaks Cloud Map and nothing else; with every part it speaks both, in the parts' order
    assert "servicediscovery register-instance" in script and "vpc-lattice" not in script
    assert SCRIPT.index("servicediscovery register-instance") < SCRIPT.index("vpc-lattice register-targets")
    with pytest.raises(ConstructPropsError, match="carries no registrar part and none were given"):
        render_registrar(PodRegistration(environment={"AWS_REGION": "x"}, policy_statements=()))


def test_fails_when_the_interval_or_drain_is_out_of_range():
    with pytest.raises(ConstructPropsError, match="interval_seconds is 1: at least 5"):
        render_registrar(CLOUDMAP, interval_seconds=1)
    with pytest.raises(ConstructPropsError, match="drain_seconds is -1: at least 0"):
        add_registrar({"containers": []}, CLOUDMAP, drain_seconds=-1)


def test_fails_when_a_registration_is_empty_or_two_disagree():
    with pytest.raises(PropsError, match="environment of a PodRegistration is empty"):
        PodRegistration(environment={}, policy_statements=())
    other = PodRegistration(environment={"AWS_REGION": "us-east-1", "MESHSPEC_LATTICE_TARGET_GROUP": "t",
                                         "MESHSPEC_LATTICE_PORT": "1"}, policy_statements=())
    with pytest.raises(PropsError, match=r"differently: \{'AWS_REGION': \('eu-west-1', 'us-east-1'\)\}"):
        CLOUDMAP.merged(other)


def test_merged_registration_registers_in_both_and_keeps_the_identity():
    both = CLOUDMAP.merged(LATTICE)
    assert set(both.environment) == {"AWS_REGION", "MESHSPEC_CLOUDMAP_NAMESPACE", "MESHSPEC_CLOUDMAP_SERVICE",
                                     "MESHSPEC_LATTICE_TARGET_GROUP", "MESHSPEC_LATTICE_PORT"}
    assert both.role_tags == {"meshspec:service": "rec"}


# -- the constructs: one workload per backend ---------------------------------------------------------------
def _props(name: str = "rec") -> MeshServiceProps:
    return MeshServiceProps(name=name, port=8080, versions=("r-3", "r-4"),
                            majors=(MajorRoute("v1", f"/{name}/v1/", {"r-3": 50, "r-4": 50}),))


@pytest.fixture(scope="module")
def workloads():
    """GIVEN an EKS workload of two versions on App Mesh, one on Lattice, one beside both (a migration)."""
    s = stack()
    vpc = ec2.Vpc(s, "Vpc", availability_zones=["eu-west-1a", "eu-west-1b"], nat_gateways=1)
    cluster = EksCluster(s, "Cluster", EksClusterProps(vpc=vpc, cluster_name="shop-ml", container_insights=False))
    ns = sd.PrivateDnsNamespace(s, "Ns", name="shop.local", vpc=vpc)
    appmesh_backend = AppMeshBackend(appmesh.Mesh.from_mesh_name(s, "Mesh", "shop-mesh"), ns)
    lattice_backend = LatticeBackend(service_network_id="sn-0123456789abcdef0", vpc=vpc,
                                     target_group_name=lambda svc, v: f"shop-{svc}-{v}")
    bindings = {"appmesh": appmesh_backend.add_service(s, "RecMesh", _props("rec")),
                "lattice": lattice_backend.add_service(s, "LatMesh", _props("lat")),
                "beside": BesideBinding(appmesh_backend.add_service(s, "BesMesh", _props("bes")),
                                        lattice_backend.add_service(s, "BesLat", _props("bes")))}
    names = {"appmesh": "rec", "lattice": "lat", "beside": "bes"}
    out = {kind: KubernetesWorkload(s, f"W-{kind}", cluster=cluster, props=KubernetesWorkloadProps(
        service_name=names[kind], port=8080, binding=b,
        versions=(WorkloadVersion("r-3", "img:3"), WorkloadVersion("r-4", "img:4"))))
        for kind, b in bindings.items()}
    # WHEN synthesized
    return template(s), out, s


def _policy_of(t, workload_id: str) -> list[dict[str, Any]]:
    (policy,) = [p for k, p in t.find_resources("AWS::IAM::Policy").items() if k.startswith(f"W{workload_id}PodRole")]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def _registrar_env(workload, version: str) -> dict[str, str]:
    (dep,) = [m for m in workload.manifests if m["kind"] == "Deployment" and m["metadata"]["name"].endswith(version)]
    (c,) = [c for c in dep["spec"]["template"]["spec"]["containers"] if c["name"] == REGISTRAR_CONTAINER]
    return {e["name"]: e.get("value") for e in c["env"]}


def test_appmesh_pods_register_in_their_own_cloud_map_service(workloads):
    t, w, s = workloads
    # THEN each version's registrar names its own Cloud Map service, as literals
    for v in ("r-3", "r-4"):
        env = _registrar_env(w["appmesh"], v)
        assert {k: env[k] for k in ("AWS_REGION", "MESHSPEC_CLOUDMAP_NAMESPACE", "MESHSPEC_CLOUDMAP_SERVICE")} == {
            "AWS_REGION": "eu-west-1", "MESHSPEC_CLOUDMAP_NAMESPACE": "shop.local",
            "MESHSPEC_CLOUDMAP_SERVICE": f"rec-{v}"}
    # and the pod role may register only in the service's own Cloud Map services (one statement per version)
    statements = _policy_of(t, "appmesh")
    register = [st for st in statements if "servicediscovery:RegisterInstance" in st["Action"]]
    own = {s.resolve(w["appmesh"].props.binding.discovery[v].service_arn)["Fn::GetAtt"][0] for v in ("r-3", "r-4")}
    assert {st["Resource"]["Fn::GetAtt"][0] for st in register} == own
    assert all(sorted(st["Action"]) == ["servicediscovery:DeregisterInstance", "servicediscovery:ListInstances",
                                        "servicediscovery:RegisterInstance"]
               for st in register)


def test_appmesh_pod_role_changes_only_its_versions_a_records(workloads):
    t, _, _ = workloads
    dns = [st for st in _policy_of(t, "appmesh") if st["Action"] == "route53:ChangeResourceRecordSets"]
    assert sorted(st["Condition"]["ForAllValues:StringEquals"]["route53:ChangeResourceRecordSetsNormalizedRecordNames"][0]
                  for st in dns) == ["rec-r-3.shop.local", "rec-r-4.shop.local"]
    assert all(st["Condition"]["ForAllValues:StringEquals"]["route53:ChangeResourceRecordSetsRecordTypes"] == ["A"]
               for st in dns)


def test_lattice_pods_register_in_their_own_target_group_and_carry_the_caller_tag(workloads):
    t, w, s = workloads
    env = _registrar_env(w["lattice"], "r-4")
    assert env["MESHSPEC_LATTICE_TARGET_GROUP"] == "shop-lat-r-4" and env["MESHSPEC_LATTICE_PORT"] == "8080"
    targets = [st for st in _policy_of(t, "lattice") if "vpc-lattice:RegisterTargets" in st["Action"]]
    groups = w["lattice"].props.binding.service.target_groups
    assert sorted(st["Resource"]["Fn::GetAtt"][0] for st in targets) == sorted(
        s.resolve(groups[v].attr_arn)["Fn::GetAtt"][0] for v in ("r-3", "r-4"))
    t.has_resource_properties("AWS::IAM::Role", {
        "Description": "pods of lat", "Tags": [{"Key": "meshspec:service", "Value": "lat"}]})


def test_appmesh_pod_role_carries_no_caller_tag(workloads):
    t, _, _ = workloads
    t.has_resource_properties("AWS::IAM::Role", {"Description": "pods of rec", "Tags": Match.absent()})


def test_meshed_pods_registrar_runs_as_envoys_ignored_user_and_lattice_pods_as_the_images(workloads):
    _, w, _ = workloads

    def registrar(kind: str) -> dict[str, Any]:
        dep = [m for m in w[kind].manifests if m["kind"] == "Deployment"][0]
        return dep["spec"]["template"]["spec"]["containers"][-1]

    assert registrar("appmesh")["securityContext"] == {"runAsUser": 1337}
    assert registrar("beside")["securityContext"] == {"runAsUser": 1337}
    assert "securityContext" not in registrar("lattice")


def test_beside_pods_register_in_cloud_map_and_lattice_with_one_registrar(workloads):
    _, w, _ = workloads
    env = _registrar_env(w["beside"], "r-3")
    assert env["MESHSPEC_CLOUDMAP_SERVICE"] == "bes-r-3" and env["MESHSPEC_LATTICE_TARGET_GROUP"] == "shop-bes-r-3"


def test_manifests_hold_only_literals(workloads, tmp_path):
    from meshspec.constructs_lib.eks import write_manifests

    _, w, s = workloads
    files = write_manifests(s, tmp_path, workloads=w.values())
    text = "".join(f.read_text() for f in files)
    assert '"Fn::' not in text and '"Ref"' not in text and "${Token" not in text
    assert text.count(f'"name": "{REGISTRAR_CONTAINER}"') == 6  # one per version and workload


# -- the script, run for real -------------------------------------------------------------------------------
AWS_CLI = shutil.which("aws")
needs_cli = pytest.mark.skipif(AWS_CLI is None, reason="the AWS CLI is not installed")


def _wait(what: str, check: Callable[[], bool], timeout: float = 40) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _start(registration: PodRegistration, pod_name: str, pod_ip: str) -> subprocess.Popen:
    """The registrar's container as Kubernetes would run it: its command, its env (the downward API's values
    given), a one-second interval so the test does not wait thirty."""
    c = render_registrar(registration, parts=ALL_PARTS)
    env = {e["name"]: e["value"] for e in c["env"] if "value" in e}
    env.update(MESHSPEC_INTERVAL_SECONDS="1", POD_NAME=pod_name, POD_IP=pod_ip)
    return subprocess.Popen(c["command"], env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=40)
    assert proc.returncode == 0, out
    return out


@needs_cli
def test_script_registers_heals_and_deregisters_a_pod_in_cloud_map(aws):
    # GIVEN the namespace and a version's Cloud Map service, as the stacks create them
    sdc = boto3.client("servicediscovery", region_name=REGION)
    sdc.create_private_dns_namespace(Name="shop.local", Vpc="vpc-0123456789abcdef0")
    (ns,) = sdc.list_namespaces()["Namespaces"]
    sid = sdc.create_service(Name="rec-r-3", NamespaceId=ns["Id"], HealthCheckCustomConfig={"FailureThreshold": 1},
                             DnsConfig={"DnsRecords": [{"Type": "A", "TTL": 60}]})["Service"]["Id"]

    def instances() -> dict[str, str]:
        return {i["Id"]: i["Attributes"]["AWS_INSTANCE_IPV4"] for i in sdc.list_instances(ServiceId=sid)["Instances"]}

    # WHEN the registrar starts in pod rec-r-3-abc with IP 10.0.3.7
    proc = _start(CLOUDMAP, "rec-r-3-abc", "10.0.3.7")
    try:
        # THEN the pod is an instance of its version's service, healthy from the start
        _wait("registration", lambda: instances() == {"rec-r-3-abc": "10.0.3.7"})
        assert sdc.get_instance(ServiceId=sid, InstanceId="rec-r-3-abc")["Instance"]["Attributes"][
            "AWS_INIT_HEALTH_STATUS"] == "HEALTHY"
        # WHEN the registration is lost / THEN it comes back
        sdc.deregister_instance(ServiceId=sid, InstanceId="rec-r-3-abc")
        _wait("healed registration", lambda: instances() == {"rec-r-3-abc": "10.0.3.7"})
        # WHEN a pod killed without SIGTERM left an instance on the IP this pod now holds / THEN it is dropped
        sdc.register_instance(ServiceId=sid, InstanceId="rec-r-3-dead", Attributes={"AWS_INSTANCE_IPV4": "10.0.3.7"})
        sdc.register_instance(ServiceId=sid, InstanceId="rec-r-3-other", Attributes={"AWS_INSTANCE_IPV4": "10.0.3.8"})
        _wait("stale instance dropped", lambda: instances() == {"rec-r-3-abc": "10.0.3.7", "rec-r-3-other": "10.0.3.8"})
    finally:
        # WHEN the pod stops (SIGTERM) / THEN it deregisters itself and leaves the others
        out = _stop(proc)
    assert instances() == {"rec-r-3-other": "10.0.3.8"}, out
    assert "registered rec-r-3-abc (10.0.3.7) in rec-r-3" in out and "deregistered rec-r-3-abc" in out


@needs_cli
def test_script_registers_heals_and_deregisters_a_pod_in_a_lattice_target_group(aws):
    # GIVEN a version's target group, named as the stacks name it
    lat = boto3.client("vpc-lattice", region_name=REGION)
    tg = lat.create_target_group(name="shop-rec-r-3", type="IP", config={
        "port": 8080, "protocol": "HTTP", "vpcIdentifier": "vpc-0123456789abcdef0"})["id"]
    lat.create_target_group(name="shop-rec-r-4", type="IP", config={
        "port": 8080, "protocol": "HTTP", "vpcIdentifier": "vpc-0123456789abcdef0"})

    def targets() -> list[tuple[str, int]]:
        return [(t["id"], t["port"]) for t in lat.list_targets(targetGroupIdentifier=tg)["items"]]

    proc = _start(LATTICE, "rec-r-3-abc", "10.0.3.7")
    try:
        _wait("registration", lambda: targets() == [("10.0.3.7", 8080)])
        lat.deregister_targets(targetGroupIdentifier=tg, targets=[{"id": "10.0.3.7", "port": 8080}])
        _wait("healed registration", lambda: targets() == [("10.0.3.7", 8080)])
    finally:
        out = _stop(proc)
    assert targets() == [], out
    assert "deregistered 10.0.3.7" in out


@needs_cli
def test_script_keeps_trying_when_its_service_does_not_exist_yet(aws):
    # GIVEN no namespace yet (the pod started before the stack) / WHEN the registrar runs / THEN it says so and
    # registers once the service exists
    proc = _start(CLOUDMAP, "rec-r-3-abc", "10.0.3.7")
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        # its first try must fail before the namespace exists (however slowly the aws CLI starts under load)
        _wait("a first try without the namespace", lambda: any("no Cloud Map namespace shop.local" in x for x in lines))
        sdc = boto3.client("servicediscovery", region_name=REGION)
        sdc.create_private_dns_namespace(Name="shop.local", Vpc="vpc-0123456789abcdef0")
        (ns,) = sdc.list_namespaces()["Namespaces"]
        sid = sdc.create_service(Name="rec-r-3", NamespaceId=ns["Id"],
                                 HealthCheckCustomConfig={"FailureThreshold": 1})["Service"]["Id"]
        _wait("late registration", lambda: [i["Id"] for i in sdc.list_instances(ServiceId=sid)["Instances"]] == [
            "rec-r-3-abc"])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=40)
        reader.join(timeout=10)
    assert proc.returncode == 0, "".join(lines)
    assert "no Cloud Map namespace shop.local" in "".join(lines)
