"""The read-only web view (docs/web.md)."""
