"""Cover images in the app: the cache extension, the Jinja tags that point at it, its routes and JSON API."""
