"""Offline training: customer data in, a verified model bundle out.

The steps read in order: ``data`` (load and validate), ``fit`` (scaler + K-Means),
``profiles`` (describe and name the segments), ``report`` (a readable summary), and
``train`` ties them together and writes the bundle; ``cli`` is the command line.
"""
