"""The HTTP server: the app and its stages, the edge below it, admin API, journal, access log,
transport faults, budgets, lifecycle and the threaded server for tests."""
