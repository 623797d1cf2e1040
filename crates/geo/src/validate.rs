//! Validation of polygonal geometry with precise error locations.

use geo::{Area, Coord, Line, LineString, MultiPolygon, Polygon};

use crate::error::{GeoError, GeoErrorKind};

/// Where a geometry sits in a document, used to build messages and field paths.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// Message prefix, e.g. `feature 3: ` (may be empty).
    pub prefix: String,
    /// Path of the `coordinates` member, e.g. `features[3].geometry.coordinates`.
    pub coords_path: String,
    /// The source geometry was a Polygon: positions are `[ring][pos]`, not `[poly][ring][pos]`.
    pub single_polygon: bool,
}

impl Ctx {
    pub fn bare() -> Self {
        Ctx {
            prefix: String::new(),
            coords_path: "coordinates".into(),
            single_polygon: false,
        }
    }

    fn poly_name(&self, p: usize) -> String {
        if self.single_polygon {
            String::new()
        } else {
            format!("polygon {p} ")
        }
    }

    fn ring_label(&self, p: usize, r: usize) -> String {
        format!("{}ring {r}", self.poly_name(p))
    }

    fn path(&self, p: usize, r: Option<usize>, i: Option<usize>) -> String {
        let mut s = self.coords_path.clone();
        if !self.single_polygon {
            s.push_str(&format!("[{p}]"));
        }
        if let Some(r) = r {
            s.push_str(&format!("[{r}]"));
            if let Some(i) = i {
                s.push_str(&format!("[{i}]"));
            }
        }
        s
    }

    fn poly_path(&self, p: usize) -> String {
        if self.single_polygon {
            self.coords_path.clone()
        } else {
            format!("{}[{p}]", self.coords_path)
        }
    }

    fn err(&self, kind: GeoErrorKind, what: String, path: String) -> GeoError {
        GeoError::new(kind, format!("{}{}", self.prefix, what), path)
    }
}

pub(crate) fn fmt_num(v: f64) -> String {
    // Short, readable numbers: at most 7 decimals, no trailing zeros.
    let s = format!("{:.7}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

fn fmt_coord(c: Coord<f64>) -> String {
    format!("({}, {})", fmt_num(c.x), fmt_num(c.y))
}

/// Checks on raw rings (before they are turned into `geo` types, which close rings silently):
/// at least 4 positions, closed, finite, in range.
pub(crate) fn check_raw_rings(polys: &[Vec<&[Coord<f64>]>], ctx: &Ctx) -> Result<(), GeoError> {
    if polys.is_empty() {
        return Err(ctx.err(
            GeoErrorKind::Empty,
            "geometry has no polygons".into(),
            ctx.coords_path.clone(),
        ));
    }
    for (p, rings) in polys.iter().enumerate() {
        if rings.is_empty() {
            return Err(ctx.err(
                GeoErrorKind::Empty,
                format!(
                    "{}has no rings",
                    if ctx.single_polygon {
                        "polygon ".to_string()
                    } else {
                        ctx.poly_name(p)
                    }
                ),
                ctx.poly_path(p),
            ));
        }
        for (r, ring) in rings.iter().enumerate() {
            for (i, c) in ring.iter().enumerate() {
                if !c.x.is_finite() || !c.y.is_finite() {
                    return Err(ctx.err(
                        GeoErrorKind::NonFinite,
                        format!(
                            "{} position {i} is not a finite number",
                            ctx.ring_label(p, r)
                        ),
                        ctx.path(p, Some(r), Some(i)),
                    ));
                }
                if !(-180.0..=180.0).contains(&c.x) {
                    return Err(ctx.err(
                        GeoErrorKind::OutOfRange,
                        format!(
                            "{} position {i}: longitude {} is outside [-180, 180] (GeoJSON positions are [longitude, latitude])",
                            ctx.ring_label(p, r),
                            fmt_num(c.x)
                        ),
                        ctx.path(p, Some(r), Some(i)),
                    ));
                }
                if !(-90.0..=90.0).contains(&c.y) {
                    return Err(ctx.err(
                        GeoErrorKind::OutOfRange,
                        format!(
                            "{} position {i}: latitude {} is outside [-90, 90] (GeoJSON positions are [longitude, latitude])",
                            ctx.ring_label(p, r),
                            fmt_num(c.y)
                        ),
                        ctx.path(p, Some(r), Some(i)),
                    ));
                }
            }
            if ring.len() < 4 {
                return Err(ctx.err(
                    GeoErrorKind::TooFewPositions,
                    format!(
                        "{} has {} positions, at least 4 are required",
                        ctx.ring_label(p, r),
                        ring.len()
                    ),
                    ctx.path(p, Some(r), None),
                ));
            }
            let (first, last) = (ring[0], ring[ring.len() - 1]);
            if first != last {
                return Err(ctx.err(
                    GeoErrorKind::UnclosedRing,
                    format!(
                        "{} is not closed: first position {} differs from last position {}",
                        ctx.ring_label(p, r),
                        fmt_coord(first),
                        fmt_coord(last)
                    ),
                    ctx.path(p, Some(r), None),
                ));
            }
        }
    }
    Ok(())
}

struct Seg {
    poly: usize,
    ring: usize,
    /// index of the segment's first position in the ring
    idx: usize,
    /// position of this segment in the ring's list of non-degenerate segments
    k: usize,
    a: Coord<f64>,
    b: Coord<f64>,
    min_x: f64,
    max_x: f64,
}

/// (poly, ring, position index)
type Loc = (usize, usize, usize);

enum Crossing {
    /// edges of one polygon cross or overlap
    SelfIntersection(Coord<f64>, Loc, Loc),
    /// edges of two polygons cross
    Overlap(Coord<f64>, Loc, Loc),
    /// two polygons share a stretch of boundary
    SharedEdge(Coord<f64>, Loc, Loc),
}

impl Crossing {
    fn key(&self) -> (Loc, Loc) {
        match self {
            Crossing::SelfIntersection(_, a, b)
            | Crossing::Overlap(_, a, b)
            | Crossing::SharedEdge(_, a, b) => (*a, *b),
        }
    }
}

/// First (in ring order) crossing / overlap between edges of a multipolygon, found with a
/// sweep over x so that large areas validate in O(n log n + k).
fn find_crossing(polys: &[Vec<&[Coord<f64>]>]) -> Option<Crossing> {
    let mut segs = Vec::new();
    let mut ring_len = Vec::new();
    for (p, rings) in polys.iter().enumerate() {
        let mut lens = Vec::new();
        for (r, ring) in rings.iter().enumerate() {
            let mut k = 0;
            for i in 0..ring.len().saturating_sub(1) {
                let (a, b) = (ring[i], ring[i + 1]);
                if a == b {
                    continue;
                }
                segs.push(Seg {
                    poly: p,
                    ring: r,
                    idx: i,
                    k,
                    a,
                    b,
                    min_x: a.x.min(b.x),
                    max_x: a.x.max(b.x),
                });
                k += 1;
            }
            lens.push(k);
        }
        ring_len.push(lens);
    }
    segs.sort_by(|s, t| s.min_x.total_cmp(&t.min_x));
    let mut best: Option<Crossing> = None;
    for (n, s) in segs.iter().enumerate() {
        let (s_min_y, s_max_y) = (s.a.y.min(s.b.y), s.a.y.max(s.b.y));
        for t in &segs[n + 1..] {
            if t.min_x > s.max_x {
                break;
            }
            if t.a.y.min(t.b.y) > s_max_y || t.a.y.max(t.b.y) < s_min_y {
                continue;
            }
            let same_poly = s.poly == t.poly;
            let same_ring = same_poly && s.ring == t.ring;
            let adjacent = same_ring && {
                let m = ring_len[s.poly][s.ring];
                let d = s.k.abs_diff(t.k);
                d == 1 || (m > 2 && d == m - 1)
            };
            let Some(ix) =
                geo::line_intersection::line_intersection(Line::new(s.a, s.b), Line::new(t.a, t.b))
            else {
                continue;
            };
            let (point, proper, collinear) = match ix {
                geo::LineIntersection::SinglePoint {
                    intersection,
                    is_proper,
                } => (intersection, is_proper, false),
                geo::LineIntersection::Collinear { intersection } => (
                    intersection.start,
                    false,
                    intersection.start != intersection.end,
                ),
            };
            let (a, b) = if (s.poly, s.ring, s.idx) <= (t.poly, t.ring, t.idx) {
                (s, t)
            } else {
                (t, s)
            };
            let (la, lb) = ((a.poly, a.ring, a.idx), (b.poly, b.ring, b.idx));
            let found = if same_ring {
                // adjacent edges share a vertex; anything else is a self-intersection
                if adjacent && !collinear {
                    continue;
                }
                Crossing::SelfIntersection(point, la, lb)
            } else if same_poly {
                // shell and holes may touch at single points only
                if !proper && !collinear {
                    continue;
                }
                Crossing::SelfIntersection(point, la, lb)
            } else if collinear {
                Crossing::SharedEdge(point, la, lb)
            } else if proper {
                Crossing::Overlap(point, la, lb)
            } else {
                continue; // polygons may touch at points
            };
            if best.as_ref().is_none_or(|cur| found.key() < cur.key()) {
                best = Some(found);
            }
        }
    }
    best
}

#[derive(PartialEq, Eq, Clone, Copy, Debug)]
enum Pos {
    Inside,
    Outside,
    Boundary,
}

fn point_in_ring(c: Coord<f64>, ring: &[Coord<f64>]) -> Pos {
    let mut inside = false;
    for w in ring.windows(2) {
        let (a, b) = (w[0], w[1]);
        // on the segment?
        let cross = (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x);
        if cross == 0.0
            && c.x >= a.x.min(b.x)
            && c.x <= a.x.max(b.x)
            && c.y >= a.y.min(b.y)
            && c.y <= a.y.max(b.y)
        {
            return Pos::Boundary;
        }
        if (a.y > c.y) != (b.y > c.y) {
            let xi = a.x + (c.y - a.y) * (b.x - a.x) / (b.y - a.y);
            if c.x < xi {
                inside = !inside;
            }
        }
    }
    if inside {
        Pos::Inside
    } else {
        Pos::Outside
    }
}

/// Position of ring `inner` relative to ring `outer`, given that their edges do not cross:
/// decided by the first vertex of `inner` not on `outer`'s boundary.
fn ring_in_ring(inner: &[Coord<f64>], outer: &[Coord<f64>]) -> Pos {
    for &c in inner {
        match point_in_ring(c, outer) {
            Pos::Boundary => continue,
            p => return p,
        }
    }
    // every vertex on the boundary: treat midpoints
    for w in inner.windows(2) {
        let m = Coord {
            x: (w[0].x + w[1].x) / 2.0,
            y: (w[0].y + w[1].y) / 2.0,
        };
        match point_in_ring(m, outer) {
            Pos::Boundary => continue,
            p => return p,
        }
    }
    Pos::Boundary
}

fn bbox(ring: &[Coord<f64>]) -> [f64; 4] {
    ring.iter().fold(
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        |b, c| [b[0].min(c.x), b[1].min(c.y), b[2].max(c.x), b[3].max(c.y)],
    )
}

fn bbox_within(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a[0] >= b[0] && a[1] >= b[1] && a[2] <= b[2] && a[3] <= b[3]
}

fn collinear(ring: &[Coord<f64>]) -> bool {
    let p0 = ring[0];
    let Some(p1) = ring.iter().find(|c| **c != p0) else {
        return true;
    };
    ring.iter()
        .all(|c| (p1.x - p0.x) * (c.y - p0.y) - (p1.y - p0.y) * (c.x - p0.x) == 0.0)
}

fn ring_area(ring: &[Coord<f64>]) -> f64 {
    Polygon::new(LineString::from(ring.to_vec()), vec![]).unsigned_area()
}

/// Full validation of rings given as coordinate slices.
pub(crate) fn validate_rings(polys: &[Vec<&[Coord<f64>]>], ctx: &Ctx) -> Result<(), GeoError> {
    check_raw_rings(polys, ctx)?;
    for (p, rings) in polys.iter().enumerate() {
        for (r, ring) in rings.iter().enumerate() {
            if collinear(ring) {
                return Err(ctx.err(
                    GeoErrorKind::ZeroArea,
                    format!(
                        "{} encloses no area (all positions are on one line)",
                        ctx.ring_label(p, r)
                    ),
                    ctx.path(p, Some(r), None),
                ));
            }
        }
    }
    if let Some(c) = find_crossing(polys) {
        return Err(match c {
            Crossing::SelfIntersection(pt, (p, r1, i1), (_, r2, i2)) => {
                let where_ = if r1 == r2 {
                    format!("{}ring {r1} edges {i1} and {i2}", ctx.poly_name(p))
                } else {
                    format!(
                        "{}ring {r1} edge {i1} and ring {r2} edge {i2}",
                        ctx.poly_name(p)
                    )
                };
                ctx.err(
                    GeoErrorKind::SelfIntersection,
                    format!(
                        "self-intersection at {} ({where_} cross or overlap)",
                        fmt_coord(pt)
                    ),
                    ctx.path(p, Some(r1), Some(i1)),
                )
            }
            Crossing::Overlap(pt, (p1, _, _), (p2, r2, i2)) => ctx.err(
                GeoErrorKind::Topology,
                format!(
                    "polygons {p1} and {p2} overlap (their edges cross at {})",
                    fmt_coord(pt)
                ),
                ctx.path(p2, Some(r2), Some(i2)),
            ),
            Crossing::SharedEdge(pt, (p1, _, _), (p2, r2, i2)) => ctx.err(
                GeoErrorKind::Topology,
                format!(
                    "polygons {p1} and {p2} share an edge at {} (merge them into one polygon)",
                    fmt_coord(pt)
                ),
                ctx.path(p2, Some(r2), Some(i2)),
            ),
        });
    }
    let mut shell_boxes = Vec::with_capacity(polys.len());
    for (p, rings) in polys.iter().enumerate() {
        for (r, ring) in rings.iter().enumerate() {
            let area = ring_area(ring);
            if area <= 0.0 || !area.is_finite() {
                return Err(ctx.err(
                    GeoErrorKind::ZeroArea,
                    format!("{} encloses no area", ctx.ring_label(p, r)),
                    ctx.path(p, Some(r), None),
                ));
            }
        }
        let boxes: Vec<[f64; 4]> = rings.iter().map(|r| bbox(r)).collect();
        for h in 1..rings.len() {
            if !bbox_within(&boxes[h], &boxes[0]) || ring_in_ring(rings[h], rings[0]) != Pos::Inside
            {
                return Err(ctx.err(
                    GeoErrorKind::Topology,
                    format!(
                        "{} (a hole) is not inside the polygon's exterior ring 0",
                        ctx.ring_label(p, h)
                    ),
                    ctx.path(p, Some(h), None),
                ));
            }
            for g in 1..rings.len() {
                if g != h
                    && bbox_within(&boxes[h], &boxes[g])
                    && ring_in_ring(rings[h], rings[g]) == Pos::Inside
                {
                    return Err(ctx.err(
                        GeoErrorKind::Topology,
                        format!(
                            "{} (a hole) lies inside another hole, ring {g}",
                            ctx.ring_label(p, h)
                        ),
                        ctx.path(p, Some(h), None),
                    ));
                }
            }
        }
        shell_boxes.push((boxes[0], p));
    }
    // polygon inside another polygon (edges do not cross, so test one vertex)
    shell_boxes.sort_by(|a, b| a.0[0].total_cmp(&b.0[0]));
    for (n, (ba, pa)) in shell_boxes.iter().enumerate() {
        for (bb, pb) in &shell_boxes[n + 1..] {
            if bb[0] > ba[2] {
                break;
            }
            for (inner, outer, bi, bo) in [(*pa, *pb, ba, bb), (*pb, *pa, bb, ba)] {
                if !bbox_within(bi, bo)
                    || ring_in_ring(polys[inner][0], polys[outer][0]) != Pos::Inside
                {
                    continue;
                }
                // inside the shell: fine only if inside one of the other polygon's holes
                let in_hole = polys[outer][1..]
                    .iter()
                    .any(|h| ring_in_ring(polys[inner][0], h) != Pos::Outside);
                if !in_hole {
                    let (lo, hi) = (inner.min(outer), inner.max(outer));
                    return Err(ctx.err(
                        GeoErrorKind::Topology,
                        format!("polygons {lo} and {hi} overlap (polygon {inner} lies inside polygon {outer})"),
                        ctx.poly_path(inner),
                    ));
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn rings_of(mp: &MultiPolygon<f64>) -> Vec<Vec<&[Coord<f64>]>> {
    mp.0.iter()
        .map(|p| {
            std::iter::once(p.exterior().0.as_slice())
                .chain(p.interiors().iter().map(|r| r.0.as_slice()))
                .collect()
        })
        .collect()
}

/// Validate a multipolygon: closed rings with at least 4 positions, longitudes in
/// [-180, 180], latitudes in [-90, 90], finite values, non-zero area, no self-intersection,
/// holes inside their shell, polygons not overlapping.
pub fn validate_multipolygon(mp: &MultiPolygon<f64>) -> Result<(), GeoError> {
    validate_rings(&rings_of(mp), &Ctx::bare())
}
