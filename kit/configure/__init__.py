"""Configuration of hosts: wheelhouse for offline installs, Ansible inventory, ansible-runner."""
