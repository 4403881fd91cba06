"""The session record: its schema, the file on disk (lock, atomic write), migrations and exports."""
