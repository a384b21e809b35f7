"""Readers for LUT networks written by other tools."""
