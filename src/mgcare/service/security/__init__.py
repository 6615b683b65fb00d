"""Authentication of CDS Clients (JWT per CDS Hooks 2.0) and the `jti` replay stores."""
