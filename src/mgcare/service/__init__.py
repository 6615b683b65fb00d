"""REST API and CDS Hooks 2.0 services over the clinical core (`mgcare serve`).

Import `create_app` from `mgcare.service.app` and `run_server` from `mgcare.service.server`;
this package imports nothing heavy itself, so `mgcare --help` stays fast.
"""
