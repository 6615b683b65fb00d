"""HTTP routes: REST API (`api`), CDS Hooks (`cds`), development demo (`dev`)."""
