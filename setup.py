"""For ``scrapyd-deploy``, which builds its egg with ``python setup.py bdist_egg``.

Everything (metadata, package data, the ``scrapy`` settings entry point scrapyd reads) is in
pyproject.toml; without this file scrapyd-deploy would write a setup.py of its own that packs
no data files.
"""

from setuptools import setup

setup()
