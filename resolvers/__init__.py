"""Thin functions behind root fields and mutations: read arguments, ask the policy, call datasources."""
