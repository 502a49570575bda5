#!/bin/sh
# Install Shipyard and the library versions it is tested with into a virtualenv of its
# own, from the wheels the build host made (no network, no index).
set -eu
mkdir /var/tmp/wheels
tar -C /var/tmp/wheels -xf /var/tmp/wheels.tar
python3 -m venv /opt/shipyard
/opt/shipyard/bin/pip install --quiet --no-index --find-links /var/tmp/wheels \
    --disable-pip-version-check shipyard
rm -rf /var/tmp/wheels /var/tmp/wheels.tar
ln -s /opt/shipyard/bin/shipyard /usr/local/bin/shipyard
/usr/local/bin/shipyard --version
useradd --system --home-dir /var/lib/shipyard --no-create-home --shell /usr/sbin/nologin shipyard
