"""What every concern shares: the error model (``errors``); later the database, time and paths.

Modules here import nothing from the rest of the package, so any concern may use them.
"""
