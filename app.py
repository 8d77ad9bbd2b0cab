#!/usr/bin/env python3
"""This repository's example CDK app (`cdk synth -c spec=path/to/spec.yaml`; cdk.json's default: examples/shop.yaml).

Thin on purpose: the app is meshspec's installed entry point (``meshspec-cdk-app``), the one a user's cdk.json
names, so the checkout and users' repositories run the same code."""
import sys

from meshspec.infra.cli.cdk_app import main

if __name__ == "__main__":
    sys.exit(main())
