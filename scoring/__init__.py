"""Offline scoring: assign every customer of a CSV or Parquet file with a bundle, no service.

For nightly CRM exports: the file is read and written in chunks, so memory stays flat whatever
its size, and every row goes through the same validation and scoring as ``POST /segment``.
"""
