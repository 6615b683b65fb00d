"""mgcare: magnesium and cardiovascular health decision support."""

__version__ = "0.1.0"
