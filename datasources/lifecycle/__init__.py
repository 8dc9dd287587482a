"""School lifecycle (operator work): mergers (fusie), splits (splitsing), closures (opheffing) and board
transfers (overname), each in one transaction, with a report of exactly what moved, stopped or ended.

People keep their identity through all of them: a membership moves to another school with its person, so
every partner's ids and pseudonyms (derived from the person, datasources.store.scoping) stay the same.
Partners hear of each operation as ordinary feed events, recorded in the operation's transaction.
"""
