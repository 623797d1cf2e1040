//! Point → area lookup: an R-tree of polygon bounding boxes, then an exact point-in-polygon
//! test accelerated by horizontal bands (each band lists the edges that cross it, so the
//! even-odd ray cast only looks at a handful of edges).

use geo::{Area, BoundingRect, MultiPolygon, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::RTree;

/// A polygonal area to index.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaShape {
    pub code: String,
    /// Higher wins when several areas contain a point (custom areas over admin-1 areas).
    pub priority: i32,
    pub geometry: MultiPolygon<f64>,
}

/// One polygon (shell + holes) prepared for fast even-odd tests.
#[derive(Debug)]
struct BandedPolygon {
    shape: u32,
    bbox: [f64; 4],
    min_y: f64,
    inv_band_h: f64,
    bands: u32,
    /// CSR offsets into `edges`, `bands + 1` entries.
    band_start: Vec<u32>,
    /// Edges `[x1, y1, x2, y2]`, replicated into every band they overlap.
    edges: Vec<[f64; 4]>,
}

impl BandedPolygon {
    fn new(shape: u32, poly: &Polygon<f64>) -> Option<Self> {
        let rect = poly.bounding_rect()?;
        let mut raw: Vec<[f64; 4]> = Vec::new();
        for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
            for w in ring.0.windows(2) {
                let (a, b) = (w[0], w[1]);
                if a.y != b.y {
                    // horizontal edges never cross a horizontal ray
                    raw.push([a.x, a.y, b.x, b.y]);
                }
            }
            // geo closes rings, but be tolerant of unclosed input
            if let (Some(f), Some(l)) = (ring.0.first(), ring.0.last()) {
                if f != l && f.y != l.y {
                    raw.push([l.x, l.y, f.x, f.y]);
                }
            }
        }
        if raw.is_empty() {
            return None;
        }
        let min_y = rect.min().y;
        let height = rect.max().y - min_y;
        let bands = ((raw.len() / 2).clamp(1, 16384)) as u32;
        let inv_band_h = if height > 0.0 {
            bands as f64 / height
        } else {
            0.0
        };
        let band_of = |y: f64| -> u32 { (((y - min_y) * inv_band_h) as u32).min(bands - 1) };
        let mut counts = vec![0u32; bands as usize + 1];
        for e in &raw {
            let (b0, b1) = (band_of(e[1].min(e[3])), band_of(e[1].max(e[3])));
            for b in b0..=b1 {
                counts[b as usize + 1] += 1;
            }
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        let mut fill = counts.clone();
        let mut edges = vec![[0.0; 4]; counts[bands as usize] as usize];
        for e in &raw {
            let (b0, b1) = (band_of(e[1].min(e[3])), band_of(e[1].max(e[3])));
            for b in b0..=b1 {
                edges[fill[b as usize] as usize] = *e;
                fill[b as usize] += 1;
            }
        }
        let bbox = [rect.min().x, rect.min().y, rect.max().x, rect.max().y];
        Some(BandedPolygon {
            shape,
            bbox,
            min_y,
            inv_band_h,
            bands,
            band_start: counts,
            edges,
        })
    }

    #[inline]
    fn contains(&self, x: f64, y: f64) -> bool {
        if x < self.bbox[0] || x > self.bbox[2] || y < self.bbox[1] || y > self.bbox[3] {
            return false;
        }
        let b = (((y - self.min_y) * self.inv_band_h) as u32).min(self.bands - 1) as usize;
        let (s, e) = (self.band_start[b] as usize, self.band_start[b + 1] as usize);
        let mut inside = false;
        for &[x1, y1, x2, y2] in &self.edges[s..e] {
            if (y1 > y) != (y2 > y) {
                let xi = x1 + (y - y1) * (x2 - x1) / (y2 - y1);
                if x < xi {
                    inside = !inside;
                }
            }
        }
        inside
    }
}

/// Lookup grid: coarse cells of 1/4 degree, each split into 4 × 4 fine cells of 1/16 degree.
const FINE_PER_DEG: f64 = 16.0;
const FINE_COLS: usize = (360.0 * FINE_PER_DEG) as usize;
const FINE_ROWS: usize = (180.0 * FINE_PER_DEG) as usize;
const COLS: usize = FINE_COLS / 4;
const ROWS: usize = FINE_ROWS / 4;

// Scaling by a power of two is exact, so `fine >> 2` is always the coarse cell: a point and
// an edge vertex with the same coordinate always land in the same cells.
#[inline]
fn fine_col(lon: f64) -> usize {
    (((lon + 180.0) * FINE_PER_DEG) as usize).min(FINE_COLS - 1)
}

#[inline]
fn fine_row(lat: f64) -> usize {
    (((lat + 90.0) * FINE_PER_DEG) as usize).min(FINE_ROWS - 1)
}

/// A polygon listed in a coarse cell, with per-fine-cell knowledge: `inside` bit set = the
/// whole fine cell is inside the polygon; `touched` bit set = an edge may cross the fine cell
/// (exact test needed); neither = the fine cell is outside.
#[derive(Debug, Clone, Copy)]
struct CellEntry {
    polygon: u32,
    inside: u16,
    touched: u16,
}

/// Spatial index answering "which area contains this point?".
///
/// Polygons (each part of each multipolygon) are kept in an R-tree of bounding boxes. Point
/// lookups go through a precomputed grid: 0.25° cells list the polygons whose box overlaps
/// them, with 16 sub-cells (1/16°) each marked inside / outside / crossed by an edge. Only
/// points in a crossed sub-cell need an exact even-odd test, over the edges of one
/// horizontal band of the polygon.
#[derive(Debug)]
pub struct AreaIndex {
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, u32>>,
    polygons: Vec<BandedPolygon>,
    shapes: Vec<AreaShape>,
    /// planar area (square degrees) of each shape, for "smallest wins"
    areas: Vec<f64>,
    /// CSR offsets into `cell_entries`, one per grid cell + 1
    cell_start: Vec<u32>,
    cell_entries: Vec<CellEntry>,
}

fn build_grid(polygons: &[BandedPolygon], geoms: &[&Polygon<f64>]) -> (Vec<u32>, Vec<CellEntry>) {
    let mut per_cell: Vec<Vec<CellEntry>> = vec![Vec::new(); COLS * ROWS];
    let mut touched: Vec<bool> = Vec::new();
    for (pi, (bp, poly)) in polygons.iter().zip(geoms).enumerate() {
        let [x0, y0, x1, y1] = bp.bbox;
        // fine-cell window covering whole coarse cells of the bbox
        let (fc0, fr0) = (fine_col(x0) & !3, fine_row(y0) & !3);
        let (fc1, fr1) = (fine_col(x1) | 3, fine_row(y1) | 3);
        let w = fc1 - fc0 + 1;
        touched.clear();
        touched.resize(w * (fr1 - fr0 + 1), false);
        for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
            for e in ring.0.windows(2) {
                let (a, b) = (e[0], e[1]);
                let (ca, cb) = (fine_col(a.x.min(b.x)), fine_col(a.x.max(b.x)));
                let (ra, rb) = (fine_row(a.y.min(b.y)), fine_row(a.y.max(b.y)));
                for r in ra..=rb {
                    touched[(r - fr0) * w + (ca - fc0)..=(r - fr0) * w + (cb - fc0)].fill(true);
                }
            }
        }
        let center = |fc: usize, fr: usize, size: f64| {
            (
                -180.0 + (fc as f64 + size / 2.0) / FINE_PER_DEG,
                -90.0 + (fr as f64 + size / 2.0) / FINE_PER_DEG,
            )
        };
        for cr in (fr0 >> 2)..=(fr1 >> 2) {
            for cc in (fc0 >> 2)..=(fc1 >> 2) {
                let (mut inside, mut tmask) = (0u16, 0u16);
                for k in 0..16 {
                    let (fr, fc) = (cr * 4 + (k >> 2), cc * 4 + (k & 3));
                    if touched[(fr - fr0) * w + (fc - fc0)] {
                        tmask |= 1 << k;
                    }
                }
                if tmask == 0 {
                    // no edge anywhere in the coarse cell: one test decides it
                    let (x, y) = center(cc * 4, cr * 4, 4.0);
                    if bp.contains(x, y) {
                        inside = u16::MAX;
                    }
                } else {
                    for k in 0..16 {
                        if tmask & (1 << k) == 0 {
                            let (x, y) = center(cc * 4 + (k & 3), cr * 4 + (k >> 2), 1.0);
                            if bp.contains(x, y) {
                                inside |= 1 << k;
                            }
                        }
                    }
                }
                if inside != 0 || tmask != 0 {
                    per_cell[cr * COLS + cc].push(CellEntry {
                        polygon: pi as u32,
                        inside,
                        touched: tmask,
                    });
                }
            }
        }
    }
    let mut start = Vec::with_capacity(COLS * ROWS + 1);
    let mut entries = Vec::new();
    start.push(0u32);
    for cell in per_cell {
        entries.extend_from_slice(&cell);
        start.push(entries.len() as u32);
    }
    entries.shrink_to_fit();
    (start, entries)
}

impl AreaIndex {
    pub fn new(shapes: Vec<AreaShape>) -> Self {
        let mut polygons = Vec::new();
        let mut geoms = Vec::new();
        let mut entries = Vec::new();
        let mut areas = Vec::with_capacity(shapes.len());
        for (si, s) in shapes.iter().enumerate() {
            areas.push(s.geometry.unsigned_area());
            for p in &s.geometry.0 {
                let (Some(rect), Some(bp)) = (p.bounding_rect(), BandedPolygon::new(si as u32, p))
                else {
                    continue;
                };
                let env = Rectangle::from_corners(
                    [rect.min().x, rect.min().y],
                    [rect.max().x, rect.max().y],
                );
                entries.push(GeomWithData::new(env, polygons.len() as u32));
                polygons.push(bp);
                geoms.push(p);
            }
        }
        let (cell_start, cell_entries) = build_grid(&polygons, &geoms);
        AreaIndex {
            tree: RTree::bulk_load(entries),
            polygons,
            shapes,
            areas,
            cell_start,
            cell_entries,
        }
    }

    /// Codes of the areas whose bounding box intersects the given box (lon/lat degrees), e.g.
    /// for a map view. Unordered, without duplicates.
    pub fn intersecting_bbox(
        &self,
        min_lon: f64,
        min_lat: f64,
        max_lon: f64,
        max_lat: f64,
    ) -> Vec<&str> {
        let env = rstar::AABB::from_corners([min_lon, min_lat], [max_lon, max_lat]);
        let mut v: Vec<usize> = self
            .tree
            .locate_in_envelope_intersecting(&env)
            .map(|e| self.polygons[e.data as usize].shape as usize)
            .collect();
        v.sort_unstable();
        v.dedup();
        v.into_iter()
            .map(|i| self.shapes[i].code.as_str())
            .collect()
    }

    /// True when `a` should win over `b`: higher priority, then smaller area, then code.
    #[inline]
    fn better(&self, a: usize, b: usize) -> bool {
        let (sa, sb) = (&self.shapes[a], &self.shapes[b]);
        if sa.priority != sb.priority {
            return sa.priority > sb.priority;
        }
        if self.areas[a] != self.areas[b] {
            return self.areas[a] < self.areas[b];
        }
        sa.code < sb.code
    }

    #[inline]
    fn containing(&self, lon: f64, lat: f64) -> impl Iterator<Item = usize> + '_ {
        let ok = (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat); // false for NaN
        let (fc, fr) = if ok {
            (fine_col(lon), fine_row(lat))
        } else {
            (0, 0)
        };
        let range = if ok {
            let cell = (fr >> 2) * COLS + (fc >> 2);
            self.cell_start[cell] as usize..self.cell_start[cell + 1] as usize
        } else {
            0..0
        };
        let bit = 1u16 << (((fr & 3) << 2) | (fc & 3));
        self.cell_entries[range].iter().filter_map(move |e| {
            let hit = e.inside & bit != 0
                || (e.touched & bit != 0 && self.polygons[e.polygon as usize].contains(lon, lat));
            hit.then(|| self.polygons[e.polygon as usize].shape as usize)
        })
    }

    /// Index of the winning shape containing the point.
    pub fn lookup_index(&self, lon: f64, lat: f64) -> Option<usize> {
        let mut best: Option<usize> = None;
        for s in self.containing(lon, lat) {
            best = match best {
                Some(b) if b == s || !self.better(s, b) => Some(b),
                _ => Some(s),
            };
        }
        best
    }

    /// Area containing the point (`lon`, `lat` in WGS 84 degrees); when several contain it
    /// the highest priority wins, then the smallest area.
    pub fn lookup(&self, lon: f64, lat: f64) -> Option<&str> {
        self.lookup_index(lon, lat)
            .map(|i| self.shapes[i].code.as_str())
    }

    /// All areas containing the point, best first (priority descending, then area ascending).
    pub fn lookup_all(&self, lon: f64, lat: f64) -> Vec<&str> {
        let mut v: Vec<usize> = self.containing(lon, lat).collect();
        v.sort_unstable();
        v.dedup();
        v.sort_by(|&a, &b| {
            if a == b {
                std::cmp::Ordering::Equal
            } else if self.better(a, b) {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            }
        });
        v.into_iter()
            .map(|i| self.shapes[i].code.as_str())
            .collect()
    }

    /// The indexed shapes, in insertion order.
    pub fn shapes(&self) -> &[AreaShape] {
        &self.shapes
    }

    /// Shape by code (linear scan).
    pub fn get(&self, code: &str) -> Option<&AreaShape> {
        self.shapes.iter().find(|s| s.code == code)
    }

    pub fn len(&self) -> usize {
        self.shapes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shapes.is_empty()
    }
}
