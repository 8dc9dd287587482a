"""The GraphQL schema: strawberry types per domain, Relay connections and the federation assembly."""
