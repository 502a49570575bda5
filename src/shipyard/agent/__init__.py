"""The first-boot agent that runs inside images (``agent: shipyard``).

Standard library only, and nothing imported from the rest of the package: the build
copies this folder into the image, where python3 is all there is. Run it as
``python3 -m shipyard.agent``.
"""
