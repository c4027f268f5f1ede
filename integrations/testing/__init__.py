"""Local stand-ins for the SaaS APIs integrations talk to, for tests and demos."""
