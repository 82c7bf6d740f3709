"""The WARC side of the archive: writing records, the rotating recorder that writes them into the
spool, the CDXJ index beside each WARC (and rebuilding it from the WARC alone), the index log that
tells what was published when, and WACZ packages of WARCs for replay tools. The WARC is the truth;
everything else in the archive can be rebuilt from it."""
