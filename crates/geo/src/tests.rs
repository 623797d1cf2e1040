use std::collections::HashSet;

use geo::{Area, Contains, Coord, LineString, MultiPolygon, Point, Polygon, Validation};
use serde_json::json;

use super::*;

fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon<f64> {
    Polygon::new(
        LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]),
        vec![],
    )
}

fn iso_at(lon: f64, lat: f64) -> Option<String> {
    let code = builtin_index().lookup(lon, lat)?;
    let areas = builtin_areas();
    let a = areas.into_iter().find(|a| a.code == code).unwrap();
    Some(a.iso_3166_2.unwrap_or(a.code))
}

#[test]
fn lookup_known_places() {
    let idx = builtin_index();
    assert_eq!(idx.lookup(69.17, 34.53), Some("AF-KAB")); // Kabul
    assert_eq!(idx.lookup(36.82, -1.29), Some("KE-110")); // Nairobi (Natural Earth: KE-110)
    assert_eq!(idx.lookup(6.14, 46.20), Some("CH-GE")); // Geneva
    assert_eq!(idx.lookup(-8.00, 12.65), Some("ML-BKO")); // Bamako
    assert_eq!(idx.lookup(31.58, 4.85), Some("SS-EC")); // Juba, Central Equatoria
    assert_eq!(idx.lookup(-72.34, 18.54), Some("HT-OU")); // Port-au-Prince, Ouest
    assert_eq!(iso_at(69.17, 34.53).as_deref(), Some("AF-KAB"));
    assert_eq!(idx.lookup(-30.0, 0.0), None); // mid-Atlantic
    assert_eq!(idx.lookup(-140.0, -40.0), None); // South Pacific
    assert_eq!(idx.lookup(f64::NAN, 0.0), None);
    assert_eq!(idx.lookup_all(6.14, 46.20), vec!["CH-GE"]);
    assert_eq!(idx.lookup(200.0, 10.0), None);
    assert_eq!(idx.lookup(180.0, 90.0), None);
    let near_geneva = idx.intersecting_bbox(6.0, 46.1, 6.3, 46.3);
    assert!(near_geneva.contains(&"CH-GE"), "{near_geneva:?}");
}

#[test]
fn builtin_areas_are_valid_and_unique() {
    let areas = builtin_areas();
    assert!(
        (4500..=4700).contains(&areas.len()),
        "{} areas",
        areas.len()
    );
    assert_eq!(areas.len(), 4596);
    let mut codes = HashSet::new();
    let countries: HashSet<String> = builtin_countries().into_iter().map(|c| c.alpha2).collect();
    for a in &areas {
        assert!(codes.insert(a.code.clone()), "duplicate code {}", a.code);
        assert!(
            !a.code.contains('~') && !a.code.starts_with("-99"),
            "{}",
            a.code
        );
        assert!(
            countries.contains(&a.country),
            "{} has unknown country {}",
            a.code,
            a.country
        );
        assert!(!a.name.is_empty());
        assert_eq!(a.names.get("en"), Some(&a.name));
        assert!(!a.geometry.0.is_empty(), "{} is empty", a.code);
        assert!(a.geometry.unsigned_area() > 0.0, "{} has no area", a.code);
        validate_multipolygon(&a.geometry)
            .unwrap_or_else(|e| panic!("{}: {} at {}", a.code, e, e.path));
        for p in &a.geometry.0 {
            for r in std::iter::once(p.exterior()).chain(p.interiors()) {
                assert!(
                    r.0.len() >= 4 && r.0.first() == r.0.last(),
                    "{}: bad ring",
                    a.code
                );
            }
        }
    }
    // cross-check with geo's (much slower) OGC validation on a sample of simple areas
    for a in areas.iter().filter(|a| a.geometry.0.len() <= 3).step_by(25) {
        assert!(
            a.geometry.is_valid(),
            "{} invalid: {:?}",
            a.code,
            a.geometry.validation_errors()
        );
    }
}

#[test]
fn countries() {
    let cs = builtin_countries();
    assert!(cs.len() >= 200);
    let af = cs.iter().find(|c| c.alpha2 == "AF").unwrap();
    assert_eq!(af.alpha3, "AFG");
    assert_eq!(af.name, "Afghanistan");
    assert_eq!(af.names.get("fr").map(String::as_str), Some("Afghanistan"));
    assert!(
        af.names.contains_key("ar") && af.names.contains_key("zh") && af.names.contains_key("ru")
    );
    assert_eq!(af.region.as_deref(), Some("Asia"));
}

#[test]
fn priority_and_smallest_area_win() {
    let big = AreaShape {
        code: "BIG".into(),
        priority: 0,
        geometry: MultiPolygon(vec![square(0.0, 0.0, 10.0, 10.0)]),
    };
    let small = AreaShape {
        code: "SMALL".into(),
        priority: 0,
        geometry: MultiPolygon(vec![square(2.0, 2.0, 4.0, 4.0)]),
    };
    let custom = AreaShape {
        code: "CUSTOM".into(),
        priority: 10,
        geometry: MultiPolygon(vec![square(1.0, 1.0, 9.0, 9.0)]),
    };
    let holed = Polygon::new(
        LineString::from(vec![
            (20.0, 0.0),
            (30.0, 0.0),
            (30.0, 10.0),
            (20.0, 10.0),
            (20.0, 0.0),
        ]),
        vec![LineString::from(vec![
            (22.0, 2.0),
            (22.0, 8.0),
            (28.0, 8.0),
            (28.0, 2.0),
            (22.0, 2.0),
        ])],
    );
    let ring = AreaShape {
        code: "RING".into(),
        priority: 0,
        geometry: MultiPolygon(vec![holed]),
    };
    let idx = AreaIndex::new(vec![big, small, custom, ring]);
    assert_eq!(idx.len(), 4);
    assert!(!idx.is_empty());
    assert_eq!(idx.lookup(3.0, 3.0), Some("CUSTOM"));
    assert_eq!(idx.lookup_all(3.0, 3.0), vec!["CUSTOM", "SMALL", "BIG"]);
    assert_eq!(idx.lookup(0.5, 0.5), Some("BIG"));
    assert_eq!(idx.lookup(21.0, 5.0), Some("RING"));
    assert_eq!(idx.lookup(25.0, 5.0), None); // in the hole
    assert_eq!(idx.lookup(15.0, 5.0), None);
    assert!(AreaIndex::new(vec![]).is_empty());
}

#[test]
fn index_agrees_with_geo_contains() {
    // cross-check the banded point-in-polygon test against geo's Contains
    let areas = builtin_areas();
    let idx = builtin_index();
    let mut s: u64 = 0x9E3779B97F4A7C15;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let by_code: std::collections::HashMap<&str, &BuiltinArea> =
        areas.iter().map(|a| (a.code.as_str(), a)).collect();
    let boxes: Vec<geo::Rect<f64>> = areas.iter().map(|a| bounds(&a.geometry).unwrap()).collect();
    for a in areas.iter().step_by(3) {
        for _ in 0..3 {
            let p = Point::new(
                a.label.0 + (next() - 0.5) * 0.5,
                a.label.1 + (next() - 0.5) * 0.5,
            );
            let expected: Vec<&str> = areas
                .iter()
                .zip(&boxes)
                .filter(|(_, r)| r.contains(&p))
                .filter(|(b, _)| b.geometry.contains(&p))
                .map(|(b, _)| b.code.as_str())
                .collect();
            let got = idx.lookup_all(p.x(), p.y());
            // points exactly on a boundary may differ; all sampled points are generic
            let mut e = expected.clone();
            e.sort();
            let mut g = got.clone();
            g.sort();
            assert_eq!(g, e, "point {:?} (near {})", p, a.code);
            if let Some(c) = got.first() {
                assert!(by_code[c].geometry.contains(&p));
            }
        }
    }
}

// ---------------------------------------------------------------- GeoJSON import

const SQUARE: &str = "[[0,0],[1,0],[1,1],[0,1],[0,0]]";

#[test]
fn geojson_feature_collection() {
    let text = format!(
        r#"{{"type":"FeatureCollection","features":[
            {{"type":"Feature","properties":{{"name":"a"}},"geometry":{{"type":"Polygon","coordinates":[{SQUARE}]}}}},
            {{"type":"Feature","properties":null,"geometry":{{"type":"MultiPolygon","coordinates":[[{SQUARE}],[[[2,2],[3,2],[3,3],[2,2]]]]}}}}
        ]}}"#
    );
    let fs = parse_geojson(&text).unwrap();
    assert_eq!(fs.len(), 2);
    assert_eq!(fs[0].index, 0);
    assert_eq!(fs[0].properties["name"], json!("a"));
    assert_eq!(fs[1].geometry.0.len(), 2);
    assert!(fs[1].properties.is_empty());
    let bare = parse_geojson(&format!(r#"{{"type":"Polygon","coordinates":[{SQUARE}]}}"#)).unwrap();
    assert_eq!(bare.len(), 1);
    assert!((bare[0].geometry.unsigned_area() - 1.0).abs() < 1e-12);
    let single = parse_geojson(&format!(r#"{{"type":"Feature","properties":{{}},"geometry":{{"type":"Polygon","coordinates":[{SQUARE}]}}}}"#)).unwrap();
    assert_eq!(single.len(), 1);
}

fn fc_err(geometry: &str) -> GeoError {
    let text = format!(
        r#"{{"type":"FeatureCollection","features":[
            {{"type":"Feature","properties":{{}},"geometry":{{"type":"Polygon","coordinates":[{SQUARE}]}}}},
            {{"type":"Feature","properties":{{}},"geometry":{geometry}}}]}}"#
    );
    parse_geojson(&text).unwrap_err()
}

#[test]
fn geojson_malformed_json() {
    let e = parse_geojson("{\n \"type\": \"Polygon\",\n \"coordinates\": [[[0,0],[1,0]\n,]]\n}")
        .unwrap_err();
    assert_eq!(e.kind, GeoErrorKind::Json);
    assert!(
        e.message.starts_with("invalid JSON at line 4 column 2: "),
        "{}",
        e.message
    );
    assert_eq!(e.path, "");
    assert!(parse_geojson("[1,2]")
        .unwrap_err()
        .message
        .contains("expected a GeoJSON object"));
}

#[test]
fn geojson_unclosed_ring() {
    let e = fc_err(
        r#"{"type":"MultiPolygon","coordinates":[[[[0,0],[10,0],[10,10],[0,10],[0,0]],[[2,2],[4,2],[4,4],[2,4],[2,3]]]]}"#,
    );
    assert_eq!(e.kind, GeoErrorKind::UnclosedRing);
    assert!(
        e.message
            .starts_with("feature 1: polygon 0 ring 1 is not closed"),
        "{}",
        e.message
    );
    assert_eq!(e.path, "features[1].geometry.coordinates[0][1]");
    let e = parse_geojson(r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}"#)
        .unwrap_err();
    assert!(
        e.message.starts_with("geometry: ring 0 is not closed"),
        "{}",
        e.message
    );
    assert_eq!(e.path, "coordinates[0]");
}

#[test]
fn geojson_bow_tie() {
    let e = fc_err(r#"{"type":"Polygon","coordinates":[[[0,0],[2,2],[2,0],[0,2],[0,0]]]}"#);
    assert_eq!(e.kind, GeoErrorKind::SelfIntersection);
    assert!(
        e.message
            .starts_with("feature 1: self-intersection at (1, 1)"),
        "{}",
        e.message
    );
    assert_eq!(e.path, "features[1].geometry.coordinates[0][0]");
    let e = validate_multipolygon(&MultiPolygon(vec![Polygon::new(
        LineString::from(vec![
            (12.0, 3.0),
            (13.0, 3.2),
            (13.0, 3.0),
            (12.0, 3.2),
            (12.0, 3.0),
        ]),
        vec![],
    )]))
    .unwrap_err();
    assert!(
        e.message.starts_with("self-intersection at (12.5, 3.1)"),
        "{}",
        e.message
    );
    assert_eq!(e.path, "coordinates[0][0][0]");
}

#[test]
fn geojson_out_of_range_and_types() {
    let e = fc_err(r#"{"type":"Polygon","coordinates":[[[0,0],[200,0],[1,1],[0,0]]]}"#);
    assert_eq!(e.kind, GeoErrorKind::OutOfRange);
    assert!(
        e.message
            .contains("feature 1: ring 0 position 1: longitude 200 is outside [-180, 180]"),
        "{}",
        e.message
    );
    assert_eq!(e.path, "features[1].geometry.coordinates[0][1]");
    let e = fc_err(r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,95],[0,0]]]}"#);
    assert!(
        e.message.contains("latitude 95 is outside [-90, 90]"),
        "{}",
        e.message
    );
    assert_eq!(e.path, "features[1].geometry.coordinates[0][2]");

    let e = fc_err(r#"{"type":"LineString","coordinates":[[0,0],[1,1]]}"#);
    assert_eq!(e.kind, GeoErrorKind::UnsupportedGeometry);
    assert!(
        e.message.contains("unsupported geometry type LineString"),
        "{}",
        e.message
    );
    assert_eq!(e.path, "features[1].geometry.type");

    let e = fc_err("null");
    assert!(
        e.message.contains("feature 1: has no geometry"),
        "{}",
        e.message
    );
    let e = fc_err(r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}"#);
    assert_eq!(e.kind, GeoErrorKind::TooFewPositions);
    let e = fc_err(r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[2,0],[0,0]]]}"#);
    assert_eq!(e.kind, GeoErrorKind::ZeroArea);
    let e = fc_err(r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],["x",1],[0,0]]]}"#);
    assert_eq!(e.kind, GeoErrorKind::Structure);
    assert_eq!(e.path, "features[1].geometry.coordinates[0][2][0]");
    // hole outside its shell
    let e = fc_err(
        r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]],[[5,5],[6,5],[6,6],[5,5]]]}"#,
    );
    assert_eq!(e.kind, GeoErrorKind::Topology);
    assert_eq!(e.to_string(), e.message);
}

// ---------------------------------------------------------------- export, CAP, simplify

fn is_ccw(ring: &serde_json::Value) -> bool {
    let pts: Vec<(f64, f64)> = ring
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
        .collect();
    pts.windows(2)
        .map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1)
        .sum::<f64>()
        > 0.0
}

#[test]
fn rfc7946_winding() {
    // clockwise shell, counter-clockwise hole: both must be flipped on output
    let p = Polygon::new(
        LineString::from(vec![
            (0.0, 0.0),
            (0.0, 10.0),
            (10.0, 10.0),
            (10.0, 0.0),
            (0.0, 0.0),
        ]),
        vec![LineString::from(vec![
            (2.0, 2.0),
            (4.0, 2.0),
            (4.0, 4.0),
            (2.0, 4.0),
            (2.0, 2.0),
        ])],
    );
    let g = to_geojson_geometry(&MultiPolygon(vec![p]));
    assert_eq!(g["type"], "MultiPolygon");
    let rings = &g["coordinates"][0];
    assert!(is_ccw(&rings[0]), "exterior must be counter-clockwise");
    assert!(!is_ccw(&rings[1]), "holes must be clockwise");
    // round trip through the parser
    let back = parse_geojson(&g.to_string()).unwrap();
    assert!((back[0].geometry.unsigned_area() - 96.0).abs() < 1e-9);
    // built-in data is already RFC 7946 oriented
    let kabul = builtin_areas()
        .into_iter()
        .find(|a| a.code == "AF-KAB")
        .unwrap();
    let g = to_geojson_geometry(&kabul.geometry);
    assert!(is_ccw(&g["coordinates"][0][0]));
}

#[test]
fn cap_round_trip() {
    // Geneva-ish box: lon 6.1..6.2, lat 46.1..46.3
    let mp = MultiPolygon(vec![square(6.1, 46.1, 6.2, 46.3)]);
    let caps = cap_polygons(&mp, 100);
    assert_eq!(
        caps,
        vec!["46.1,6.1 46.1,6.2 46.3,6.2 46.3,6.1 46.1,6.1".to_string()]
    );
    let p = parse_cap_polygon(&caps[0]).unwrap();
    assert_eq!(p.exterior().0[1], Coord { x: 6.2, y: 46.1 }); // x = lon, y = lat
    assert!((p.unsigned_area() - 0.02).abs() < 1e-9);
    assert!(p.contains(&Point::new(6.15, 46.2)));
    assert!(!p.contains(&Point::new(46.2, 6.15)));

    let e = parse_cap_polygon("46.1,6.1 46.1,6.2 46.3,6.2 46.1,6.1 46.2").unwrap_err();
    assert_eq!(e.path, "points[4]");
    let e = parse_cap_polygon("46.1,6.1 46.1,6.2 46.3,6.2").unwrap_err();
    assert!(e.message.contains("at least 4"), "{}", e.message);
    let e = parse_cap_polygon("46.1,6.1 46.1,6.2 46.3,6.2 46.2,6.0").unwrap_err();
    assert!(e.message.contains("not closed"), "{}", e.message);
    let e = parse_cap_polygon("6.1,46.1 6.1,200 6.3,46.2 6.1,46.1").unwrap_err();
    assert!(e.message.contains("longitude 200"), "{}", e.message);
    assert_eq!(e.path, "points[1]");
}

#[test]
fn cap_simplifies_real_area() {
    let areas = builtin_areas();
    let big = areas
        .iter()
        .max_by_key(|a| {
            a.geometry
                .0
                .iter()
                .map(|p| p.exterior().0.len())
                .max()
                .unwrap()
        })
        .unwrap();
    for max in [4usize, 10, 100] {
        for s in cap_polygons(&big.geometry, max) {
            let n = s.split(' ').count();
            assert!((4..=max).contains(&n), "{} points for max {max}", n);
            let p = parse_cap_polygon(&s);
            if max >= 100 {
                p.unwrap();
            }
        }
    }
    assert_eq!(cap_polygons(&big.geometry, 100).len(), big.geometry.0.len());
}

#[test]
fn simplify_never_empty() {
    let areas = builtin_areas();
    for a in areas.iter().step_by(11) {
        let s = simplify_for_display(&a.geometry, 0.5);
        assert!(!s.0.is_empty(), "{}", a.code);
        assert!(s.unsigned_area() > 0.0);
    }
    let tiny = MultiPolygon(vec![square(0.0, 0.0, 0.001, 0.001)]);
    let s = simplify_for_display(&tiny, 1.0);
    assert_eq!(s.0.len(), 1);
    let b = union_bounds([&tiny, &MultiPolygon(vec![square(5.0, -5.0, 6.0, 1.0)])]).unwrap();
    assert_eq!(
        (b.min().x, b.min().y, b.max().x, b.max().y),
        (0.0, -5.0, 6.0, 1.0)
    );
}

#[test]
fn multipolygon_topology() {
    let mp = |ps: Vec<Polygon<f64>>| MultiPolygon(ps);
    // overlapping squares
    let e = validate_multipolygon(&mp(vec![
        square(0.0, 0.0, 2.0, 2.0),
        square(1.0, 1.0, 3.0, 3.0),
    ]))
    .unwrap_err();
    assert!(
        e.message.starts_with("polygons 0 and 1 overlap"),
        "{}",
        e.message
    );
    // one inside the other
    let e = validate_multipolygon(&mp(vec![
        square(0.0, 0.0, 10.0, 10.0),
        square(1.0, 1.0, 2.0, 2.0),
    ]))
    .unwrap_err();
    assert!(
        e.message.contains("polygon 1 lies inside polygon 0"),
        "{}",
        e.message
    );
    assert_eq!(e.path, "coordinates[1]");
    // sharing an edge
    let e = validate_multipolygon(&mp(vec![
        square(0.0, 0.0, 1.0, 1.0),
        square(1.0, 0.0, 2.0, 1.0),
    ]))
    .unwrap_err();
    assert!(e.message.contains("share an edge"), "{}", e.message);
    // touching at a corner is fine, and so is an island inside a hole
    validate_multipolygon(&mp(vec![
        square(0.0, 0.0, 1.0, 1.0),
        square(1.0, 1.0, 2.0, 2.0),
    ]))
    .unwrap();
    let holed = Polygon::new(
        LineString::from(vec![
            (0.0, 0.0),
            (10.0, 0.0),
            (10.0, 10.0),
            (0.0, 10.0),
            (0.0, 0.0),
        ]),
        vec![LineString::from(vec![
            (2.0, 2.0),
            (2.0, 8.0),
            (8.0, 8.0),
            (8.0, 2.0),
            (2.0, 2.0),
        ])],
    );
    validate_multipolygon(&mp(vec![holed.clone(), square(4.0, 4.0, 5.0, 5.0)])).unwrap();
    // hole touching the shell at one point is valid; hole crossing it is not
    let touching = Polygon::new(
        LineString::from(vec![
            (0.0, 0.0),
            (10.0, 0.0),
            (10.0, 10.0),
            (0.0, 10.0),
            (0.0, 0.0),
        ]),
        vec![LineString::from(vec![
            (0.0, 5.0),
            (5.0, 8.0),
            (5.0, 2.0),
            (0.0, 5.0),
        ])],
    );
    validate_multipolygon(&mp(vec![touching])).unwrap();
    let crossing = Polygon::new(
        LineString::from(vec![
            (0.0, 0.0),
            (10.0, 0.0),
            (10.0, 10.0),
            (0.0, 10.0),
            (0.0, 0.0),
        ]),
        vec![LineString::from(vec![
            (-1.0, 5.0),
            (5.0, 8.0),
            (5.0, 2.0),
            (-1.0, 5.0),
        ])],
    );
    let e = validate_multipolygon(&mp(vec![crossing])).unwrap_err();
    assert_eq!(e.kind, GeoErrorKind::SelfIntersection);
    assert!(
        e.message.contains("ring 0 edge 3 and ring 1 edge"),
        "{}",
        e.message
    );
    let outside = Polygon::new(
        LineString::from(vec![
            (0.0, 0.0),
            (10.0, 0.0),
            (10.0, 10.0),
            (0.0, 10.0),
            (0.0, 0.0),
        ]),
        vec![LineString::from(vec![
            (20.0, 5.0),
            (25.0, 8.0),
            (25.0, 2.0),
            (20.0, 5.0),
        ])],
    );
    let e = validate_multipolygon(&mp(vec![outside])).unwrap_err();
    assert_eq!(
        e.message,
        "polygon 0 ring 1 (a hole) is not inside the polygon's exterior ring 0"
    );
    assert_eq!(e.path, "coordinates[0][1]");
    let e = validate_multipolygon(&mp(vec![])).unwrap_err();
    assert_eq!(e.kind, GeoErrorKind::Empty);
}
