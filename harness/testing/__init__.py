"""Test support: local stand-ins for external services (scripted, never real models)."""
