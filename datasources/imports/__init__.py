"""Full sync of a school file into the store: the plan, the apply, the change events it records, and the
export back out.
"""
