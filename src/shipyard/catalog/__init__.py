"""The image catalog: a store of builds, a signed simplestreams index, resolve, serve, pull."""
