"""Helpers for the Qlik Cloud Private Key JWT tutorial notebooks."""
