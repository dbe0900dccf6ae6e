"""Offline training: customer data in, a verified model bundle out.

The steps read in order, each in its own module: ``data`` (read through
``segmentation.sources`` and validate), ``choose_k`` (how many segments), ``fit`` (scaler +
K-Means), ``stability`` (refits on resamples), ``profiles`` (describe the segments), ``names``
(names people chose), ``report`` (a self-contained HTML page). ``train`` runs them in that
order and writes the bundle; ``cli`` holds the commands and ``sample_data`` the seeded generator
of the shipped sample file.
"""
