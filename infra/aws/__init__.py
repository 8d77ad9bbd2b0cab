"""AWS helpers outside CDK: reading cloud assemblies and planning from them (pure)."""
