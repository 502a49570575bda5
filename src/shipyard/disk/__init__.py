"""Disk images without loop devices: plan a GPT layout, build filesystems into the
image file at their offsets, and install GRUB for UEFI and BIOS by writing bytes."""
