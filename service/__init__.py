"""The HTTP service: loads a verified bundle once and assigns customers to its segments.

Modules: ``settings`` (configuration), ``app`` (factory and lifespan), ``model`` (the loaded
model object that does the scoring), ``schemas`` (request and response bodies), ``errors`` (one
error shape, mapped to status codes in one place), ``routes`` (thin HTTP handlers).
"""
