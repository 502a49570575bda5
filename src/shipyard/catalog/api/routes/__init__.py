"""One module of routes per resource: images (the JSON API) and streams (index and blobs)."""
