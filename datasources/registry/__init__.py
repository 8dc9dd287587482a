"""The DUO registry of school locations and the operator's own changes to locations."""
