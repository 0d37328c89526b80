"""The collection: its queries, and the ways it gets in (Discogs sync, CSV import, the demo)."""
