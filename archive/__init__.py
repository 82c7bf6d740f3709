"""sangrah's archive library: WARC, seed-format TXT, storage, indexes. Never imports Scrapy.

Its parts: ``warc/`` (WARC records, the recorder, CDXJ indexes, the index log, WACZ packages),
``text/`` (a page -> article text and metadata, the seed-file TXT format, dates, word diffs,
drift), ``store/`` (the storage protocol and its local and S3 backends, the spool, TXT names,
layout, verify), ``discover/`` (sources and ``sources.toml``, feeds, sitemaps and listings,
canonical URLs, check-source), ``catalog/`` (the SQLite catalog and the capture state),
``replay/`` (the replay proxy) and ``web/`` (the browser UI). At the top level: ``session`` (the
archiving rules), ``cli`` (the ``sangrah`` command), ``reprocess``, ``egress`` (where the crawler
may connect), ``faults`` (kill points), ``metrics`` and ``progress``.
"""

__version__ = "0.1.0"
