"""The frontend: hosts register, fetch their profile and install themselves."""
