"""Spark-only code shared by training and scoring: the session, reading tables, orders into
customers. Nothing outside ``--engine spark`` imports it; it needs the ``[spark]`` extra."""
