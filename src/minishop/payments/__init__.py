"""Payments service: charges orders through a simulated provider that fails at random."""
