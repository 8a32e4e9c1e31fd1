"""Accessibility checks (axe-core in Debian's Chromium) for the project's HTML pages."""
