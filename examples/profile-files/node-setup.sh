#!/bin/sh
# Runs on the host as root once, after the profile's files are written.
set -e
mkdir -p /var/lib/compute
echo "{{ host.name }}" > /var/lib/compute/name
