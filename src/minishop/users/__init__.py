"""Users service: who may place orders."""
