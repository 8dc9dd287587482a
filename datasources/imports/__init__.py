"""Full sync of a school file into the store: the stored state (`state`), the plan, the guards and the
transaction (`sync`), the writes (`writes`), who a newcomer is (`identities`), the change events it
records (`events`), the report (`report`), and the export back out (`export`).
"""
