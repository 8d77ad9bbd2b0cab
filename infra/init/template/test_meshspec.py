"""Snapshot tests of the CloudFormation templates meshspec generates from meshspec.yaml (`meshspec help testing`).

`pytest` compares every stack's template with tests/__snapshots__/. After a change you mean (a new image, a
traffic share), `pytest --snapshot-update` records the new templates: review their diff in the pull request."""
from aws_cdk.assertions import Match


def test_every_stack_matches_its_snapshot(meshspec_synth, meshspec_snapshot):
    assert meshspec_synth.templates, "the spec has no AWS stack"
    for stack, template in sorted(meshspec_synth.templates.items()):
        assert template == meshspec_snapshot(name=stack)


def test_orders_runs_its_image_on_fargate(meshspec_synth):
    orders = meshspec_synth.service_template("orders")
    orders.has_resource_properties("AWS::ECS::Service", {
        "CapacityProviderStrategy": Match.array_with([Match.object_like({"CapacityProvider": "FARGATE"})]),
    })
    orders.has_resource_properties("AWS::ECS::TaskDefinition", {
        "RequiresCompatibilities": ["FARGATE"],
        "ContainerDefinitions": Match.array_with([Match.object_like({"Image": "public.ecr.aws/nginx/nginx:1.27"})]),
    })
