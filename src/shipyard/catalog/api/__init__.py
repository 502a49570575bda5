"""The distribution server's HTTP app: routes, dependencies, and the files it serves."""
