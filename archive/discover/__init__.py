"""The sources and where their articles come from: per-source specs (``sources.toml`` + an
operator's override file), feeds, sitemaps and listing pages parsed into links, canonical article
URLs, and ``sangrah check-source`` (what the extractor makes of one page under a source's spec,
with the page fetched from a file, the store or the web)."""
