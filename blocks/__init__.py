"""Prefect Blocks of the SpotDraft integration. Register with `prefect block register -m blocks`."""

from blocks.credentials import SpotDraftCredentials

__all__ = ["SpotDraftCredentials"]
