"""Every source of data: the SQL store, per-request loaders, the DUO registry and EDEXML readers."""
