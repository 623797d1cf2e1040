//! Geometry helpers: bounds and display simplification.

use geo::{Area, BoundingRect, MultiPolygon, Polygon, Rect, SimplifyVwPreserve};

/// Bounding box of a multipolygon (None when empty).
pub fn bounds(mp: &MultiPolygon<f64>) -> Option<Rect<f64>> {
    mp.bounding_rect()
}

/// Bounding box covering all the given multipolygons (None when all are empty).
pub fn union_bounds<'a, I>(mps: I) -> Option<Rect<f64>>
where
    I: IntoIterator<Item = &'a MultiPolygon<f64>>,
{
    mps.into_iter()
        .filter_map(|m| m.bounding_rect())
        .reduce(|a, b| {
            Rect::new(
                geo::Coord {
                    x: a.min().x.min(b.min().x),
                    y: a.min().y.min(b.min().y),
                },
                geo::Coord {
                    x: a.max().x.max(b.max().x),
                    y: a.max().y.max(b.max().y),
                },
            )
        })
}

fn usable(p: &Polygon<f64>) -> bool {
    p.exterior().0.len() >= 4 && p.unsigned_area() > 0.0
}

/// Simplify for display (topology-preserving Visvalingam-Whyatt; `tolerance_deg` is roughly
/// the largest distance a removed vertex may lie from the result). Polygons and holes that
/// collapse are dropped, but the result is never empty for a non-empty input: if every
/// polygon collapses the largest one is kept with progressively less simplification.
pub fn simplify_for_display(mp: &MultiPolygon<f64>, tolerance_deg: f64) -> MultiPolygon<f64> {
    if mp.0.is_empty() || tolerance_deg.is_nan() || tolerance_deg <= 0.0 {
        return mp.clone();
    }
    let eps = tolerance_deg * tolerance_deg;
    let simplify = |p: &Polygon<f64>, eps: f64| -> Option<Polygon<f64>> {
        let s = p.simplify_vw_preserve(&eps);
        if !usable(&s) {
            return None;
        }
        let holes = s
            .interiors()
            .iter()
            .filter(|h| h.0.len() >= 4)
            .cloned()
            .collect();
        Some(Polygon::new(s.exterior().clone(), holes))
    };
    let out: Vec<Polygon<f64>> = mp.0.iter().filter_map(|p| simplify(p, eps)).collect();
    if !out.is_empty() {
        return MultiPolygon(out);
    }
    let largest =
        mp.0.iter()
            .max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area()))
            .expect("non-empty");
    let mut e = eps;
    for _ in 0..30 {
        e /= 4.0;
        if let Some(p) = simplify(largest, e) {
            return MultiPolygon(vec![p]);
        }
    }
    MultiPolygon(vec![largest.clone()])
}
