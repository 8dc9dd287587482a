"""Who may come in: partner and staff accounts, LAS clients, signing keys, the consent lifecycle, and the
facts the policy needs about a viewer.
"""
