"""The bilingual web app served by `mgcare serve` beside the API."""
