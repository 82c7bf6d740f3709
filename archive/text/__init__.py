"""From a fetched page to article text: decoding, pruning, extraction (trafilatura, scoped to the
source's container), gold-policy cleaning, metadata and dates, the self-check against plain
trafilatura, legacy-font detection, and drift of a source's extraction across runs; plus the
seed-file TXT format the texts are written in (:mod:`.seedfile`) and word diffs between versions
of a text. Pure functions of bytes and strings: no network, no store."""
