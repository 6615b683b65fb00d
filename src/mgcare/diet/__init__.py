"""Diet: food composition (USDA SR28), food search and, later, intake and planning.

Modules stay small and independent: ``foods`` loads the shipped food table,
``search`` finds foods by English or Chinese name or NDB number.
"""
