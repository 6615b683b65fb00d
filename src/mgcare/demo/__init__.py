"""The bundled demo patient used by `make run` and `mgcare demo`."""
