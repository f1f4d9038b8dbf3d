"""The local side of amtflow: the local AMT engine, the local twin and the CLI.

Never imported by Lambda code (a test enforces it).
"""
