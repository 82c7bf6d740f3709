"""The replay proxy: an HTTP(S) proxy on 127.0.0.1 that answers from stored resources (corpus
folders or WARC files) instead of the network, so tests and ``sangrah fetch --replay`` run the real
Scrapy downloader offline; with the throwaway certificate authority of its CONNECT tunnels."""
