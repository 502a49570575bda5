"""The manifest: YAML in, frozen typed models out."""
