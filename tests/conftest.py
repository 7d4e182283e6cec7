"""Shared fixtures. Test modules import realistic cloud items from ``items.py`` beside this file."""
