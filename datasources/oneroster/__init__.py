"""OneRoster 1.2: the hub's rosters (orgs, classes, users, enrollments) read within a partner's scope,
for the REST rostering endpoints and the CSV bulk export, from the same policy and with the same ids."""
