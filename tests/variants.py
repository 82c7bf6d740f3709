"""Unseen-template variants of the corpus gold articles: lxml rewrites that keep each gold valid.

The dev corpus replicas follow one template per site, so selector lists tuned on them can fail
silently on the sites' other templates. Each *kind* here rewrites a gold page the way another
template or a redesign would, without touching the article text:

- ``pib_mobile``  PressReleseDetailm.aspx: ``ctl00_ContentPlaceHolder1_`` ids, body in
  ``div.Section1``, desktop container class gone (sites.md 1.4);
- ``pib_event``   event layout: ``ReleaseIdEvent``/``lblViewsEvent``, a ``FooterEventText``
  paragraph, a ``<style>`` naming the container class, no dateline (sites.md 1.3);
- ``redesign``    every class and id renamed (hashed), standfirst moved below the share bar;
  microdata, JSON-LD and og: metadata kept (NDTV after a redesign, sites.md 2.4);
- ``amp``         AMP markup: ``/amp/1`` URL, amp-img, amp-ad slots with "विज्ञापन" labels, no
  scripts but JSON-LD, classes hashed, no ``itemprop=articleBody`` (sites.md 6);
- ``mobile``      m.hindi.webdunia.com: classes/ids hashed, no body microdata (sites.md 4.3);
- ``inserted``    the page's own template with boilerplate put *inside* the body: a "ये भी
  पढ़ें" list and an inline "यह भी पढ़ें:" link, an ad label, an image with a caption, and a
  trailing "--आईएएनएस" sign-off with an initials line; the gold policy drops them all;
- ``redesign+inserted``  both at once; ``bare+inserted`` the same without body microdata, so
  no container selector matches and the whole-page path runs.

Deterministic: no randomness, hashes of class names only. ``variants(corpus)`` yields
:class:`Variant` objects; nothing is written to disk.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import lxml.html
from lxml import etree

from archive.text.seedfile import normalize

CORPUS = Path(__file__).parent / "corpus"
PREFIX = "ctl00_ContentPlaceHolder1_"
PIB_CONTAINER = "innner-page-main-about-us-content-right-part"
PIB_IDS = ("MinistryName", "Titleh2", "Subtitleh3", "ltrSubtitle", "PrDateTime", "hydpermid",
           "ReleaseId", "lblViews", "lblRefPhoto", "lg_g", "reel_pic", "RelLink")  # fmt: skip
FOOTER_EVENT = (
    "भारत का 56वां अंतरराष्ट्रीय फिल्म महोत्सव (इफ्फी) 20 से 28 नवंबर तक गोवा में आयोजित किया जा "
    "रहा है। महोत्सव में दुनिया भर की फिल्मों का प्रदर्शन होगा और फिल्म निर्माताओं, कलाकारों तथा "
    "दर्शकों को एक मंच पर लाया जाएगा।"
)
CAPTION = "बैठक के दौरान दोनों देशों के प्रतिनिधिमंडल (फाइल चित्र)"
SIGN_OFF = ("--आईएएनएस", "एसकेपी/एबीएम")
AD_LABEL = "विज्ञापन"


@dataclass
class Variant:
    kind: str
    entry: dict  # the manifest entry it was built from
    url: str
    body: bytes
    must_not: list[str] = field(default_factory=list)  # inserted boilerplate
    keeps_date: bool = True

    @property
    def source(self) -> str:
        return self.entry["source"]


# --- helpers ------------------------------------------------------------------------------------


def _h(token: str, salt: str = "c") -> str:
    return salt + hashlib.sha1(token.encode()).hexdigest()[:6]


def _hash_names(doc) -> None:
    """Every class token and id renamed, as a redesign (or CSS-module build) would."""
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        if el.get("class"):
            el.set("class", " ".join(_h(t) for t in el.get("class").split()))
        if el.get("id") and not el.get("id").startswith("__"):
            el.set("id", _h(el.get("id"), "i"))


def _el(markup: str):
    return lxml.html.fragment_fromstring(markup)


def _gold_blocks(entry: dict) -> list[str]:
    text = (CORPUS / entry["gold"]).read_text(encoding="utf-8")
    return [b for b in text.split("\n\n")[1:] if b.strip()]


def _anchors(doc, entry: dict) -> list:
    """Elements after which a block can go between paragraphs: the <p>s holding gold text (their
    most common parent only), else the <br>s that separate paragraphs in a loose-text body."""
    gold = normalize(" ".join(_gold_blocks(entry)))
    paras = [
        p for p in doc.iter("p")
        if len(t := normalize(p.text_content())) > 30 and t[:40] in gold
    ]  # fmt: skip
    if len(paras) >= 2:
        parent, _ = Counter(p.getparent() for p in paras).most_common(1)[0]
        return [p for p in paras if p.getparent() is parent]
    brs = [
        br for br in doc.iter("br")
        if not (br.tail or "").strip() and len(normalize(br.getparent().text_content())) > 300
        and normalize(br.getparent().text_content())[:30] in gold
    ]  # fmt: skip
    return brs


def _other_titles(entry: dict, entries: list[dict], n: int) -> list[str]:
    gold = (CORPUS / entry["gold"]).read_text(encoding="utf-8")
    titles = sorted({e["meta"]["title"] for e in entries if e["source"] != entry["source"]})
    start = int(hashlib.sha1(entry["url"].encode()).hexdigest(), 16) % len(titles)
    picked = [t for t in titles[start:] + titles[:start] if t not in gold]
    return picked[:n]


# --- kinds --------------------------------------------------------------------------------------


def pib_mobile(doc, v: Variant) -> None:
    for form in doc.iter("form"):
        form.set("id", "aspnetForm")
        form.set("name", "aspnetForm")
    for name in PIB_IDS:
        for el in doc.xpath(f'//*[@id="{name}"]'):
            if not _inside_id(el, "PdfDiv"):
                el.set("id", PREFIX + name)
    container = doc.xpath(f'//div[contains(@class, "{PIB_CONTAINER}")]')[0]
    container.set("class", "col-sm-12 mob-cnt")
    kids = list(container)
    start = next(i for i, k in enumerate(kids) if (k.get("id") or "").endswith("PrDateTime"))
    stop = next(
        i for i, k in enumerate(kids)
        if i > start and (k.get("id") or "").endswith(("reel_pic", "ReleaseId"))
    )  # fmt: skip
    section = _el('<div class="Section1"></div>')
    kids[start].addnext(section)
    for kid in kids[start + 1 : stop]:
        section.append(kid)
    v.url = re.sub(r"PressRelease(Iframe)?Page\.aspx", "PressReleseDetailm.aspx", v.url)


def _inside_id(el, name: str) -> bool:
    return any(a.get("id") == name for a in el.iterancestors())


def pib_event(doc, v: Variant) -> None:
    for old, new in (("ReleaseId", "ReleaseIdEvent"), ("lblViews", "lblViewsEvent")):
        for el in doc.xpath(f'//*[@id="{old}"]'):
            el.set("id", new)
    for el in doc.xpath('//*[@id="PrDateTime"]'):
        el.getparent().remove(el)
    v.keeps_date = False
    container = doc.xpath(f'//div[contains(@class, "{PIB_CONTAINER}")]')[0]
    css = f".{PIB_CONTAINER} p {{ text-align: justify; }} #FooterEventText {{ }}"
    style = _el(f"<style>{css}</style>")
    container.addprevious(style)
    release = container.xpath('.//*[@id="ReleaseIdEvent"]')[0]
    release.addprevious(_el(f'<div id="FooterEventText" class="pt20"><p>{FOOTER_EVENT}</p></div>'))
    v.must_not.append(FOOTER_EVENT[:60])


def redesign(doc, v: Variant) -> None:
    """Class/id names hashed; the standfirst (if any) moved below the share bar as a <p>."""
    for sf in doc.xpath('//h2[contains(@class, "sp-descp")]'):
        shares = doc.xpath('//*[contains(@class, "pst_opt") or contains(@class, "ss_pg")]')
        share = shares[0] if shares else None
        sf.getparent().remove(sf)
        sf.tag = "p"
        (share if share is not None else doc.body[0]).addnext(sf)
    _hash_names(doc)


def bare(doc, v: Variant) -> None:
    """A redesign that also drops the body microdata: no container selector can match."""
    for el in doc.xpath('//*[@itemprop="articleBody"]'):
        del el.attrib["itemprop"]
    redesign(doc, v)


def amp(doc, v: Variant) -> None:
    doc.set("amp", "")
    for script in list(doc.iter("script")):
        if "ld+json" not in (script.get("type") or ""):
            script.drop_tree()
    doc.head.append(_el('<script async src="https://cdn.ampproject.org/v0.js"></script>'))
    for img in list(doc.iter("img")):
        img.tag = "amp-img"
        img.set("src", img.get("data-src") or img.get("src") or "")
        img.set("layout", "responsive")
    ads = doc.xpath(
        '//*[contains(@class, "story_ad-wrp") or contains(@class, "ad-container")'
        ' or contains(@class, "in-article-ad") or contains(@class, "add-wrp")]'
    )
    for i, ad in enumerate(ads):
        slot = _el(f'<div class="amp-ad-wrp"><span class="ad-lbl">{AD_LABEL}</span>'
                   f'<amp-ad width="300" height="250" type="doubleclick" data-slot="/1/amp_{i}">'
                   "</amp-ad></div>")  # fmt: skip
        slot.tail = ad.tail
        ad.getparent().replace(ad, slot)
    for el in doc.xpath('//*[@itemprop="articleBody"]'):
        del el.attrib["itemprop"]
    _hash_names(doc)
    if "ndtv" in v.url:
        v.url = v.url.rstrip("/") + "/amp/1"
    else:
        v.url = re.sub(r"^(https?://[^/]+)/", r"\1/amp/", v.url)


def mobile(doc, v: Variant) -> None:
    for el in doc.xpath('//*[@itemprop="articleBody"]'):
        del el.attrib["itemprop"]
    _hash_names(doc)
    v.url = v.url.replace("://hindi.webdunia.com", "://m.hindi.webdunia.com")


def inserted(doc, v: Variant, entries: list[dict]) -> None:
    anchors = _anchors(doc, v.entry)
    if len(anchors) < 2:
        raise LookupError("no paragraphs to insert between")
    h1, h2, h3, h4 = _other_titles(v.entry, entries, 4)
    related = _el(
        '<div class="rel-box"><h3>ये भी पढ़ें</h3><ul>'
        + "".join(f'<li><a href="/x/{i}?ref=rel">{t}</a></li>' for i, t in enumerate((h1, h2, h3)))
        + "</ul></div>"
    )
    ad = _el(f'<div class="slot-x"><span>{AD_LABEL}</span><div id="gpt-mid"></div></div>')
    picture = _el(
        f'<div class="pic-w"><img src="https://img.example.in/a.jpg" alt="">'
        f'<p class="pic-t">{CAPTION}</p></div>'
    )
    inline = _el(f'<p><strong>यह भी पढ़ें:</strong> <a href="/x/4">{h4}</a></p>')
    sign = [_el(f"<p>{line}</p>") for line in SIGN_OFF]
    _after(anchors[0], picture)
    _after(anchors[1], related)
    _after(anchors[min(2, len(anchors) - 1)], ad)
    _after(anchors[-2], inline)
    for p in sign if anchors[-1].tag == "br" else reversed(sign):
        if anchors[-1].tag == "br":  # loose-text body: the sign-off goes at its very end
            anchors[-1].getparent().append(copy.deepcopy(p))
        else:
            _after(anchors[-1], p)
    v.must_not += [h1, h2, h3, h4, CAPTION, AD_LABEL, *SIGN_OFF]


def _after(anchor, el) -> None:
    """Insert a copy of ``el`` after ``anchor`` and its tail text."""
    anchor.addnext(copy.deepcopy(el))


KINDS: dict[str, tuple[set[str], tuple[Callable, ...]]] = {
    "pib_mobile": ({"pib"}, (pib_mobile,)),
    "pib_event": ({"pib"}, (pib_event,)),
    "redesign": ({"ndtv", "ians", "webdunia"}, (redesign,)),
    "amp": ({"ndtv", "ians"}, (amp,)),
    "mobile": ({"webdunia"}, (mobile,)),
    "inserted": ({"pib", "ndtv", "ians", "webdunia", "generic"}, (inserted,)),
    "redesign+inserted": ({"ndtv", "ians", "webdunia"}, (inserted, redesign)),
    "bare+inserted": ({"ndtv", "ians", "webdunia"}, (inserted, bare)),
}


def gold_entries(corpus: Path = CORPUS) -> list[dict]:
    return [
        json.loads(line)
        for manifest in sorted(corpus.glob("manifest*.jsonl"))
        for line in manifest.read_text(encoding="utf-8").splitlines()
        if '"gold"' in line and json.loads(line).get("gold") and json.loads(line).get("body")
    ]


def _applies(kind: str, entry: dict) -> bool:
    sources, _ = KINDS[kind]
    if entry["source"] not in sources:
        return False
    url = entry["url"]
    if kind.startswith("pib_"):
        return "PressReleasePage.aspx" in url and "lang=2" in url  # the Hindi desktop pages
    if kind == "amp":
        return "/amp/" not in url
    return True


def variants(corpus: Path = CORPUS, kinds: list[str] | None = None) -> Iterator[Variant]:
    entries = gold_entries(corpus)
    for kind in kinds or list(KINDS):
        for entry in entries:
            if not _applies(kind, entry):
                continue
            html = (corpus / entry["body"]).read_bytes()
            doc = lxml.html.document_fromstring(html)
            v = Variant(kind, entry, entry["url"], b"")
            try:
                for step in KINDS[kind][1]:
                    step(doc, v, entries) if step is inserted else step(doc, v)
            except LookupError:
                continue
            v.body = etree.tostring(doc, encoding="utf-8", doctype="<!DOCTYPE html>")
            yield v
