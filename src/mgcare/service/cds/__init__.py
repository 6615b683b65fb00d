"""CDS Hooks 2.0: service definitions, request models, prefetch, hooks and cards."""
