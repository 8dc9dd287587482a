"""The change feed: numbering and recording events, dated events, retention, deletion acknowledgements, and
the events a consent change implies.
"""
