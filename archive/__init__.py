"""sangrah's archive library: WARC, seed-format TXT, storage, indexes. Never imports Scrapy."""

__version__ = "0.1.0"
