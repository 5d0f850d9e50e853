"""wagtail-messenger: threaded on-site messages for Wagtail marketplaces."""

__version__ = "0.1.0"
