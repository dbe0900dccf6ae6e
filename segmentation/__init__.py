"""The contract shared by training and the service: customer features, the model bundle, scoring.

Training writes bundles and the service reads them; both import this package so that the
feature catalogue, the bundle's layout on disk and the scoring arithmetic exist exactly once.
"""
