"""The CDK context of every meshspec app: CDK-free, so the synth engine can key its cache by it without
loading aws-cdk-lib."""

# Context every meshspec app gets (also in cdk.json): lock in strong cross-stack references explicitly; no stack
# traces in the metadata (they hold the jsii kernel's random temporary paths, so two synths of one spec would
# differ; without them the cloud assembly is reproducible byte for byte, which the synth cache relies on).
APP_CONTEXT = {"@aws-cdk/core:defaultCrossStackReferences": "strong", "aws:cdk:disable-stack-trace": True,
               "aws:cdk:disable-creation-stack-traces": True}


# What the CDK CLI passes to every app, so `meshspec synth` writes the same templates as `cdk synth`.
CLI_CONTEXT = {"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True,
               "aws:cdk:version-reporting": True}
