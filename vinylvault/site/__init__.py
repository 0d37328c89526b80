"""The HTML site: pages, charts (importable without Flask), the kiosk view and the phone app shell."""
