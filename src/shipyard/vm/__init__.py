"""Boot images locally as EC2 would start them: qemu, firmware, serial console, IMDS."""
