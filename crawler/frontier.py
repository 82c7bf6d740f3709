"""A frontier shared by several workers through Redis (``SANGRAH_REDIS_URL``), on scrapy-redis.

One worker of a source discovers (feeds, sitemaps, listings: they build one in-memory picture of
the source, so they stay on that worker); the article requests it releases go into a Redis queue
(scrapy-redis's priority queue) that every worker of the source consumes, so each article is
requested by exactly one of them. Which worker discovers is settled by ``SET … NX`` on a round
key, which the discoverer turns to ``done`` when it has queued everything; a worker exits on its
own once the round is done and the shared queue has stayed empty for ``SANGRAH_REDIS_IDLE_EXIT``
seconds. Politeness holds across workers: before a request to a host, a worker takes that
host's slot in Redis for ``DOWNLOAD_DELAY`` seconds (``SET … NX PX``), and waits while another
worker holds it. Without ``SANGRAH_REDIS_URL`` all of this is off and the scheduler is Scrapy's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.core.scheduler import BaseScheduler, Scheduler
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.settings import Settings

logger = logging.getLogger(__name__)
SHARED = "shared"  # request.meta flag: this request goes to the shared queue


def round_key(spider: Spider) -> str:
    return f"sangrah:{spider.name}:round"


def queue_key(spider_name: str) -> str:
    return f"sangrah:{spider_name}:requests"


class SplitScheduler(BaseScheduler):
    """Scrapy's scheduler for this worker's own requests (discovery, robots.txt), scrapy-redis's
    for the shared ones (``meta["shared"]``)."""

    def __init__(self, local: Scheduler, shared: Any = None):
        self.local = local
        self.shared = shared

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SplitScheduler:
        local = Scheduler.from_crawler(crawler)
        url = crawler.settings.get("SANGRAH_REDIS_URL")
        if not url:
            return cls(local)
        from scrapy_redis.scheduler import Scheduler as RedisScheduler

        settings = Settings(crawler.settings.copy_to_dict())  # the crawler's is frozen
        settings.set("REDIS_URL", url)
        settings.set("SCHEDULER_PERSIST", True)  # the queue outlives a worker; others use it
        settings.set("SCHEDULER_QUEUE_KEY", queue_key("%(spider)s"))
        settings.set("SCHEDULER_DUPEFILTER_KEY", "sangrah:%(spider)s:dupefilter")
        settings.set("DUPEFILTER_CLASS", "scrapy_redis.dupefilter.RFPDupeFilter")
        shared = RedisScheduler.from_settings(settings)
        shared.stats = crawler.stats
        return cls(local, shared)

    def open(self, spider: Spider):
        if self.shared is not None:
            self.shared.open(spider)
        return self.local.open(spider)

    def close(self, reason: str):
        if self.shared is not None:
            self.shared.close(reason)
        return self.local.close(reason)

    def has_pending_requests(self) -> bool:
        shared = self.shared is not None and self.shared.has_pending_requests()
        return self.local.has_pending_requests() or shared

    def enqueue_request(self, request: Request) -> bool:
        if self.shared is not None and request.meta.get(SHARED):
            return self.shared.enqueue_request(request)
        return self.local.enqueue_request(request)

    def next_request(self) -> Request | None:
        request = self.local.next_request()
        if request is None and self.shared is not None:
            request = self.shared.next_request()
        return request

    def __len__(self) -> int:
        return len(self.local) + (len(self.shared) if self.shared is not None else 0)


class FrontierCoordinator:
    """Who discovers, and when a worker may stop."""

    def __init__(self, crawler: Crawler, url: str, idle_exit: float, round_ttl: int):
        import redis

        self.crawler = crawler
        self.redis = redis.Redis.from_url(url)
        self.idle_exit = idle_exit
        self.round_ttl = round_ttl
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.discovers = False
        self._empty_since: float | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontierCoordinator:
        url = crawler.settings.get("SANGRAH_REDIS_URL")
        if not url:
            raise NotConfigured  # off without SANGRAH_REDIS_URL (no log line)
        coordinator = cls(
            crawler,
            url,
            crawler.settings.getfloat("SANGRAH_REDIS_IDLE_EXIT"),
            crawler.settings.getint("SANGRAH_REDIS_ROUND_TTL"),
        )
        crawler.signals.connect(coordinator.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(coordinator.spider_idle, signal=signals.spider_idle)
        return coordinator

    def spider_opened(self, spider: Spider) -> None:
        self.discovers = bool(
            self.redis.set(round_key(spider), self.worker, nx=True, ex=self.round_ttl)
        )
        role = "discovery" if self.discovers else "worker"
        self.crawler.stats.set_value("sangrah/frontier_role", role)
        logger.info("%s: %s (shared frontier %s)", spider.name, role, round_key(spider))

    def released(self, spider: Spider) -> None:
        """The discoverer has queued every article of this round."""
        self.redis.set(round_key(spider), "done", ex=self.round_ttl)

    def spider_idle(self, spider: Spider) -> None:
        state = self.redis.get(round_key(spider))
        queued = self.redis.zcard(queue_key(spider.name))
        if queued or state not in (None, b"done"):
            self._empty_since = None  # work is queued, or still being discovered
            raise DontCloseSpider
        now = time.monotonic()
        if self._empty_since is None:
            self._empty_since = now
        if now - self._empty_since < self.idle_exit:
            raise DontCloseSpider


class SharedPolitenessMiddleware:
    """At most one request start per host and ``DOWNLOAD_DELAY`` across all workers."""

    def __init__(self, url: str, delay: float):
        import redis.asyncio

        self.redis = redis.asyncio.Redis.from_url(url)
        self.delay_ms = int(delay * 1000)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedPolitenessMiddleware:
        url = crawler.settings.get("SANGRAH_REDIS_URL")
        delay = crawler.settings.getfloat("DOWNLOAD_DELAY")
        if not url or delay <= 0:
            raise NotConfigured  # off without SANGRAH_REDIS_URL or a delay
        middleware = cls(url, delay)
        crawler.signals.connect(middleware.close, signal=signals.spider_closed)
        return middleware

    async def close(self) -> None:
        await self.redis.aclose()

    async def process_request(self, request: Request) -> None:
        key = f"sangrah:polite:{urlsplit(request.url).hostname}"
        while not await self.redis.set(key, b"1", nx=True, px=self.delay_ms):
            wait = await self.redis.pttl(key)
            await asyncio.sleep(max(wait, 10) / 1000)


class RedisOrdinals:
    """TXT ordinals from a Redis counter per folder (started past what the store holds); the
    store's conditional create still guards every one."""

    def __init__(self, url: str, namespace: str):
        import redis

        self.redis = redis.Redis.from_url(url)
        self.namespace = namespace

    def next(self, folder: str, first_free) -> int:
        key = f"sangrah:ordinal:{self.namespace}:{folder}"
        if not self.redis.exists(key):
            self.redis.set(key, first_free() - 1, nx=True)
        return int(self.redis.incr(key))
