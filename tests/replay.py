"""Replay proxy for tests: ``python -m tests.replay --corpus tests/corpus [--warc P] [--port N]``.

Prints the proxy URL as the first line of stdout, then serves until SIGTERM/SIGINT, like Scrapy's
mock server. The proxy itself lives in :mod:`archive.replay.proxy`, which ``sangrah fetch
--replay`` uses.
"""

import sys

from archive.replay.proxy import main

if __name__ == "__main__":
    sys.exit(main())
