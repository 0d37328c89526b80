"""The owner's own photos: the store (uploads, visibility, share links; no Flask) and its views."""
