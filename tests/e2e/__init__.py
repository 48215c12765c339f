"""End-to-end tests against a real Kubernetes cluster (see conftest.py)."""
