"""The bundled demo patient used by `mgcare demo`, `make run` and the service's /dev/demo."""

from datetime import date

DEMO_AS_OF = date(2026, 11, 25)
"""The demo patient's results are from November 2026; it is assessed as of this date."""
