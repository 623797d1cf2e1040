//! CAP 1.2 `<polygon>` strings.
//!
//! CAP writes points as `lat,lon` (latitude first) separated by spaces, WGS 84, with the
//! first point repeated as the last one and at least 4 points. GeoJSON and `geo` use
//! `lon,lat` (x = longitude, y = latitude).

use geo::{Coord, LineString, MultiPolygon, Polygon, Simplify};

use crate::error::{GeoError, GeoErrorKind};
use crate::validate::fmt_num;

fn fmt_cap(v: f64) -> String {
    // 4 decimals (~11 m) is plenty for alerting areas and keeps the strings short.
    let r = (v * 1e4).round() / 1e4;
    let s = format!("{r:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

fn dedup_closed(ring: &[Coord<f64>]) -> Vec<Coord<f64>> {
    // rounding may collapse neighbouring points: drop consecutive duplicates (after rounding)
    let mut out: Vec<Coord<f64>> = Vec::with_capacity(ring.len());
    for c in ring {
        let c = Coord {
            x: (c.x * 1e4).round() / 1e4,
            y: (c.y * 1e4).round() / 1e4,
        };
        if out.last() != Some(&c) {
            out.push(c);
        }
    }
    out
}

/// Reduce a closed ring to at most `max_points` positions (closing position included).
fn reduce_ring(ring: &LineString<f64>, max_points: usize) -> Vec<Coord<f64>> {
    let max_points = max_points.max(4);
    let pts = dedup_closed(&ring.0);
    if pts.len() <= max_points {
        return pts;
    }
    let ls = LineString(pts.clone());
    let count = |eps: f64| dedup_closed(&ls.simplify(&eps).0);
    // bisection on the Douglas-Peucker tolerance: the smallest tolerance that fits
    let (mut lo, mut hi) = (0.0_f64, 1e-4_f64);
    let mut best = count(hi);
    while best.len() > max_points {
        lo = hi;
        hi *= 2.0;
        best = count(hi);
        if hi > 720.0 {
            break;
        }
    }
    for _ in 0..40 {
        let mid = (lo + hi) / 2.0;
        let r = count(mid);
        if r.len() <= max_points {
            hi = mid;
            best = r;
        } else {
            lo = mid;
        }
        if hi - lo < 1e-7 {
            break;
        }
    }
    if best.len() >= 4 && best.len() <= max_points {
        return best;
    }
    // Degenerate result: keep evenly spaced vertices instead.
    let unique = &pts[..pts.len() - 1];
    let keep = max_points - 1;
    let mut out: Vec<Coord<f64>> = (0..keep).map(|k| unique[k * unique.len() / keep]).collect();
    out.push(out[0]);
    out
}

/// CAP 1.2 polygon strings (`"lat,lon lat,lon ..."`), one per polygon exterior (CAP polygons
/// have no holes), each closed and with at least 4 and at most `max_points` points
/// (values below 4 are treated as 4).
pub fn cap_polygons(mp: &MultiPolygon<f64>, max_points: usize) -> Vec<String> {
    mp.0.iter()
        .filter_map(|p| {
            let pts = reduce_ring(p.exterior(), max_points);
            if pts.len() < 4 {
                return None;
            }
            Some(
                pts.iter()
                    .map(|c| format!("{},{}", fmt_cap(c.y), fmt_cap(c.x)))
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })
        .collect()
}

fn cap_err(msg: String, path: String) -> GeoError {
    GeoError::new(GeoErrorKind::Cap, msg, path)
}

/// Parse a CAP 1.2 polygon string (`"lat,lon lat,lon ..."`) into a polygon (x = lon, y = lat).
pub fn parse_cap_polygon(s: &str) -> Result<Polygon<f64>, GeoError> {
    let mut coords = Vec::new();
    for (i, tok) in s.split_whitespace().enumerate() {
        let path = format!("points[{i}]");
        let Some((lat, lon)) = tok.split_once(',') else {
            return Err(cap_err(
                format!("CAP polygon point {i} \"{tok}\" is not \"lat,lon\""),
                path,
            ));
        };
        let parse = |v: &str, what: &str| -> Result<f64, GeoError> {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| {
                    cap_err(
                        format!("CAP polygon point {i}: {what} \"{v}\" is not a number"),
                        path.clone(),
                    )
                })
        };
        let (lat, lon) = (parse(lat, "latitude")?, parse(lon, "longitude")?);
        if !(-90.0..=90.0).contains(&lat) {
            return Err(cap_err(
                format!("CAP polygon point {i}: latitude {} is outside [-90, 90] (CAP points are \"lat,lon\")", fmt_num(lat)),
                path,
            ));
        }
        if !(-180.0..=180.0).contains(&lon) {
            return Err(cap_err(
                format!(
                    "CAP polygon point {i}: longitude {} is outside [-180, 180]",
                    fmt_num(lon)
                ),
                path,
            ));
        }
        coords.push(Coord { x: lon, y: lat });
    }
    if coords.len() < 4 {
        return Err(cap_err(
            format!(
                "CAP polygon has {} points, at least 4 are required",
                coords.len()
            ),
            "points".into(),
        ));
    }
    if coords[0] != coords[coords.len() - 1] {
        return Err(cap_err(
            "CAP polygon is not closed: the first and last points differ".into(),
            format!("points[{}]", coords.len() - 1),
        ));
    }
    let poly = Polygon::new(LineString(coords), vec![]);
    crate::validate::validate_multipolygon(&MultiPolygon(vec![poly.clone()])).map_err(|e| {
        cap_err(
            format!(
                "CAP polygon: {}",
                e.message.trim_start_matches("polygon 0 ")
            ),
            "points".into(),
        )
    })?;
    Ok(poly)
}
