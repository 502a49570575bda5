"""Ansible plugins Shipyard ships: ansible-playbook loads them from this folder."""
