"""School files in and out: the school-file model, the checks every format passes, EDEXML (read, validate,
write) and the CSV template.
"""
