"""The SQL store: engines and migrations, tables, the frozen records, the per-request reader, and how a scope
becomes SQL (row filters, minimised columns, keyset pages).
"""
