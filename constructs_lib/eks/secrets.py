"""Secrets for EKS pods from their references, through the AWS Secrets and Configuration Provider (ASCP) of the
Secrets Store CSI driver: never a value in a manifest or a template.

Per service one ``SecretProviderClass`` lists the referenced Secrets Manager secrets and SSM parameters (full
ARNs, ``usePodIdentity: "true"``: ASCP reads them with the pod's own EKS Pod Identity role). The pods mount it
as a CSI volume; the driver syncs the mounted objects into a Kubernetes Secret (``secretObjects``, needs the
driver's ``syncSecret.enabled``), which the app's variables read through ``valueFrom.secretKeyRef``. That is
how ECS injects secrets (``ecs.Secret``), in Kubernetes' terms. Pure functions: unit-tested without a stack.

ASCP with Pod Identity: docs.aws.amazon.com/secretsmanager/latest/userguide/integrate_eks.html; the
SecretProviderClass fields (objects, region, usePodIdentity): .../userguide/ascp-examples.html; the sync to a
Kubernetes Secret: secrets-store-csi-driver.sigs.k8s.io/topics/sync-as-kubernetes-secret.html.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from aws_cdk import aws_iam as iam

from ..errors import PropsError, contradiction
from ..secret_refs import parse_ref

# The EKS add-on that installs the Secrets Store CSI driver and ASCP; syncSecret lets the driver write the
# Kubernetes Secret the variables read (off by default in the driver's chart).
SECRETS_STORE_ADDON = "aws-secrets-store-csi-driver-provider"
SECRETS_STORE_CONFIGURATION: Mapping[str, Any] = {"secrets-store-csi-driver": {"syncSecret": {"enabled": True}}}
CSI_DRIVER = "secrets-store.csi.k8s.io"
MOUNT_PATH = "/mnt/secrets-store"
VOLUME = "secrets-store"

def check_secrets(secrets: Mapping[str, str], environment: Mapping[str, str]) -> None:
    """Refuse a literal (never echoed), a variable given twice, and references in several regions (one
    SecretProviderClass reads from one region)."""
    for key, ref in secrets.items():
        if parse_ref(ref) is None:
            raise PropsError(f"secrets[{key!r}] is not a Secrets Manager or SSM parameter ARN (value not shown): "
                             "give a reference, never the secret itself")
    clash = sorted(set(secrets) & set(environment))
    if clash:
        raise contradiction("environment", clash, "secrets", clash, "a variable comes from one place only")
    regions = sorted({parse_ref(ref).region for ref in secrets.values()})
    if len(regions) > 1:
        raise PropsError(f"secrets reference {len(regions)} regions ({', '.join(regions)}): ASCP reads a pod's "
                         "SecretProviderClass from one region; keep a service's secrets in one region")


def secret_name(service: str) -> str:
    """The SecretProviderClass and the Kubernetes Secret it syncs to (same name, one per service)."""
    return f"{service}-secrets"


def secret_provider_class(service: str, namespace: str, secrets: Mapping[str, str]) -> dict[str, Any]:
    """The SecretProviderClass: one object per variable, mounted as a file named after the variable and synced
    to the key of that name. A reference that selects a JSON key mounts the whole secret as ``{VAR}.json`` and
    the key, through ASCP's ``jmesPath``, as ``{VAR}``. ``objects`` is a YAML string for ASCP; JSON is YAML,
    and sorted, so it is stable."""
    refs = {k: parse_ref(v) for k, v in sorted(secrets.items())}
    objects = []
    for k, r in refs.items():
        obj: dict[str, Any] = {"objectName": r.arn, "objectType": r.kind, "objectAlias": k}
        if r.json_key is not None:
            obj["objectAlias"] = f"{k}.json"
            obj["jmesPath"] = [{"path": r.json_key, "objectAlias": k}]
        objects.append(obj)
    (region,) = {r.region for r in refs.values()}
    return {"apiVersion": "secrets-store.csi.x-k8s.io/v1", "kind": "SecretProviderClass",
            "metadata": {"name": secret_name(service), "namespace": namespace},
            "spec": {"provider": "aws",
                     "parameters": {"objects": json.dumps(objects), "region": region, "usePodIdentity": "true"},
                     "secretObjects": [{"secretName": secret_name(service), "type": "Opaque",
                                        "data": [{"objectName": k, "key": k} for k in refs]}]}}


def secret_env(service: str, secrets: Mapping[str, str]) -> list[dict[str, Any]]:
    """The app's variables, each read from the synced Kubernetes Secret (a reference, not a value)."""
    return [{"name": k, "valueFrom": {"secretKeyRef": {"name": secret_name(service), "key": k}}}
            for k in sorted(secrets)]


def secret_volume(service: str) -> dict[str, Any]:
    """The CSI volume: mounting it is what makes the driver fetch the objects and sync the Secret."""
    return {"name": VOLUME, "csi": {"driver": CSI_DRIVER, "readOnly": True,
                                    "volumeAttributes": {"secretProviderClass": secret_name(service)}}}


SECRET_MOUNT: Mapping[str, Any] = {"name": VOLUME, "mountPath": MOUNT_PATH, "readOnly": True}


def secret_read_statements(secrets: Mapping[str, str]) -> list[iam.PolicyStatement]:
    """Least privilege for ASCP on the pod's role: exactly the referenced ARNs, as ASCP's docs list the actions
    (GetSecretValue and DescribeSecret; ssm:GetParameters)."""
    refs = [parse_ref(v) for _, v in sorted(secrets.items())]
    sm = sorted({r.policy_arn for r in refs if r.kind == "secretsmanager"})
    ssm = sorted({r.arn for r in refs if r.kind == "ssmparameter"})
    out = []
    if sm:
        out.append(iam.PolicyStatement(actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                                       resources=sm))
    if ssm:
        out.append(iam.PolicyStatement(actions=["ssm:GetParameters"], resources=ssm))
    return out
