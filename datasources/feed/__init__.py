"""The change feed: event kinds (`events`), numbering (`numbering`), recording (`recording`), dated events
(`schedule`), reading a viewer's feed (`reading`), retention (`retention`), deletion acknowledgements
(`acknowledgements`), the events a consent change implies (`consent_events`), and the change signal that
wakes subscriptions (`signal`).
"""
