"""Stacks: CloudFormation around Shipyard's images (recipes, stack files, deploys)."""
