"""Scrapy settings for sangrah. Every value can be overridden with `-s NAME=value` or env.

Layering: these defaults -> environment (SANGRAH_*, AWS_*) -> command line (-s / CLI options).
"""

import os

from archive import __version__

BOT_NAME = "sangrah"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# --- where things go -------------------------------------------------------------------------
SANGRAH_STORE = os.environ.get("SANGRAH_STORE", "./archive-data")  # ./dir, file://, s3://b/prefix
SANGRAH_SPOOL_DIR = os.environ.get("SANGRAH_SPOOL_DIR", "")  # default: <store>/.spool or ./spool
SANGRAH_WARC_PREFIX = "sangrah"
SANGRAH_WARC_MAX_SIZE = 1_000_000_000
SANGRAH_WARC_MAX_AGE = 0  # seconds; a long-running worker also seals (and publishes) by age
SANGRAH_REPORT = ""  # JSON-lines file with one result per fetched URL (the CLI reads it)
SANGRAH_EXTRACT_WORKERS = 2
SANGRAH_SOURCES_FILE = os.environ.get("SANGRAH_SOURCES", "")  # operator overrides of sources.toml
# Said in every warcinfo record; set them for production crawls.
SANGRAH_OPERATOR = os.environ.get("SANGRAH_OPERATOR", "")
SANGRAH_CONTACT = os.environ.get("SANGRAH_CONTACT", "https://github.com/sangrah/sangrah")

# --- run records and monitoring -------------------------------------------------------------
# A JSON report per run in the store, reports/YYYY/MM/DD/<run id>.json (crawler/extensions/
# runreport.py); the run id defaults to <UTC start>-<source>-<random>.
SANGRAH_RUN_REPORT = True
SANGRAH_RUN_ID = os.environ.get("SANGRAH_RUN_ID", "")
# Prometheus textfile-collector file, e.g. /var/lib/node_exporter/sangrah.prom (off when empty),
# rewritten every SANGRAH_METRICS_INTERVAL seconds and at the end of the run.
SANGRAH_METRICS_FILE = os.environ.get("SANGRAH_METRICS_FILE", "")
SANGRAH_METRICS_INTERVAL = 60.0
# Progress lines (JSON) for `sangrah crawl` on a terminal; the CLI sets it, off when empty.
SANGRAH_PROGRESS = ""
SANGRAH_PROGRESS_INTERVAL = 0.5
# Drift telemetry (archive/text/drift.py): a run whose extraction figures fall far below the
# source's last SANGRAH_DRIFT_RUNS runs (with SANGRAH_DRIFT_MIN_ARTICLES articles each, at least
# SANGRAH_DRIFT_MIN_RUNS of them, looked for in SANGRAH_DRIFT_DAYS days of reports) fails. The
# news-site spiders switch the DriftMonitor extension on (crawler/spiders/base.py).
SANGRAH_DRIFT = os.environ.get("SANGRAH_DRIFT", "1") not in ("0", "false", "False", "")
SANGRAH_DRIFT_RUNS = 10
SANGRAH_DRIFT_DAYS = 30
SANGRAH_DRIFT_MIN_RUNS = 3
SANGRAH_DRIFT_MIN_ARTICLES = 5

# S3-compatible storage: Scrapy's own names; unset values fall back to boto3's credential chain.
AWS_ENDPOINT_URL = os.environ.get("AWS_ENDPOINT_URL")
AWS_REGION_NAME = os.environ.get("AWS_REGION_NAME") or os.environ.get("AWS_DEFAULT_REGION")
AWS_ACCESS_KEY_ID = None
AWS_SECRET_ACCESS_KEY = None
AWS_SESSION_TOKEN = None
AWS_USE_SSL = None
AWS_VERIFY = None

# --- politeness --------------------------------------------------------------------------------
USER_AGENT = f"sangrah/{__version__} (Hindi news archiver; +{SANGRAH_CONTACT})"
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
DOWNLOAD_DELAY = 0.5
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
# Scrapy starts CONCURRENT_ITEMS asyncio workers for every callback's output, however few items
# it yields (scrapy/scrapy#5182): the default 100 meant 30,000 tasks for 300 articles, about a
# tenth of the crawl process's CPU. A page yields one item, a listing a few hundred requests.
CONCURRENT_ITEMS = 8
DOWNLOAD_TIMEOUT = 60
RETRY_TIMES = 2
COOKIES_ENABLED = True
DEFAULT_REQUEST_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "hi,en;q=0.8",
}

# --- safety ------------------------------------------------------------------------------------
# Networks (10.0.0.0/8) and host names (intranet.example, .example for a whole domain) the crawler
# may reach although they are not public; by default only public addresses are (archive/egress.py).
SANGRAH_EGRESS_ALLOW: list[str] = []
# Connections go through a resolver that refuses forbidden addresses (crawler/resolver.py).
TWISTED_DNS_RESOLVER = "crawler.resolver.EgressResolver"
SANGRAH_DNS_HOSTS: dict[str, str] = {}  # name -> address, answered before DNS (tests, pinning)
# Only http(s) is fetched: the file/ftp/s3/data handlers would read local files and other stores.
# http(s): Scrapy's own handler, which also keeps the response head as sent, for the WARC
# (crawler/rawhttp.py).
DOWNLOAD_HANDLERS = {
    "file": None,
    "ftp": None,
    "s3": None,
    "data": None,
    "http": "crawler.rawhttp.RawHeadHTTP11DownloadHandler",
    "https": "crawler.rawhttp.RawHeadHTTP11DownloadHandler",
}
# A news page is well under 5 MB; past DOWNLOAD_MAXSIZE the response is cut there and recorded as
# truncated (crawler/extensions/sizelimit.py), so memory per request stays bounded.
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024

# --- components --------------------------------------------------------------------------------
# Scrapy 2.19's remote control (an HTTP endpoint on 127.0.0.1 that runs Python code sent to it)
# is on by default and writes its token under $HOME: neither belongs in an unattended crawler,
# and under a read-only root (the Kubernetes recipes) it logs a traceback per run.
REMOTE_CONTROL_ENABLED = False
# A frontier shared through Redis (crawler/frontier.py): off unless SANGRAH_REDIS_URL is set.
SANGRAH_REDIS_URL = os.environ.get("SANGRAH_REDIS_URL", "")
SANGRAH_REDIS_IDLE_EXIT = 10.0  # a worker stops once the shared queue stayed empty this long
SANGRAH_REDIS_ROUND_TTL = 1800  # one discovery per source and round (seconds)
SCHEDULER = "crawler.frontier.SplitScheduler"

EXTENSIONS = {
    "crawler.extensions.archiver.Archiver": 0,
    "crawler.extensions.sizelimit.TruncateOversize": 10,
    "crawler.extensions.runreport.RunReport": 600,
    "crawler.extensions.metrics.PrometheusTextfile": 610,
    "crawler.extensions.progress.ProgressFile": 620,
    "crawler.frontier.FrontierCoordinator": 700,
}
DOWNLOADER_MIDDLEWARES = {
    # First: nothing is sent, not even robots.txt, for a URL the crawler must not reach.
    "crawler.middlewares.egress.EgressGuardMiddleware": 50,
    # Scrapy 2.19's own lets concurrent requests past robots.txt (see the module).
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.robotstxt.RobotsTxtMiddleware": 100,
    # With a shared frontier: one request per host and DOWNLOAD_DELAY across all workers.
    "crawler.frontier.SharedPolitenessMiddleware": 110,
    # Above every built-in (DownloaderStats is 850): sees the request as sent and the response
    # as received - before RedirectMiddleware (600) consumes 3xx hops and before
    # HttpCompressionMiddleware (590) decodes the body.
    "crawler.middlewares.capture.WarcCaptureMiddleware": 950,
}
ITEM_PIPELINES = {
    "pipelines.extract.ExtractPipeline": 100,
    "pipelines.txt.TxtPipeline": 200,
    "pipelines.report.ReportPipeline": 900,
}

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"
