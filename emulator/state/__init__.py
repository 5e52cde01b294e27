"""State that outlives a request: result files served by Url (and, later, tasks), behind small
store interfaces with an in-memory implementation as the default and the reference."""
