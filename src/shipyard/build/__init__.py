"""The build pipeline: manifest → disk image + build.json."""
