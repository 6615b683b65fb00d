"""Person reports (HTML and PDF) built from the store, the assessment and the shared charts."""
