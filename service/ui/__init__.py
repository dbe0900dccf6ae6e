"""The web page at /ui: static files shipped inside the package, no build step, no CDN."""
