"""The scoped reads behind the graph: schools, groups, people, licenses, partners, consents and disclosures,
batched by per-request loaders.
"""
