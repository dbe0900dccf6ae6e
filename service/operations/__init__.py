"""Running the service: worker supervision, metrics, drift monitoring, log format."""
