"""The change feed: numbering and recording events, dated events, retention, deletion acknowledgements,
the events a consent change implies, and the change signal that wakes subscriptions.
"""
