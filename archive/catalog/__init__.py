"""What the archive holds, as derived state: the local SQLite catalog for browsing and full-text
search, and the capture state a run asks per URL (the latest capture, which articles have a
TXT). Both are rebuilt from the CDXJ index files at any time; the web UI over the catalog is
:mod:`archive.web`."""
