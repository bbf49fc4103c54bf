"""pytest plugin: a throwaway PostgreSQL cluster on loopback (TODO: in progress)."""
