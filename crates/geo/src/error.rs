//! Errors with a human message (what is wrong and where) and a machine field path.

use std::fmt;

/// What kind of problem a [`GeoError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GeoErrorKind {
    /// The text is not valid JSON.
    Json,
    /// The JSON is not the GeoJSON structure expected (missing member, wrong type, ...).
    Structure,
    /// A geometry type other than Polygon / MultiPolygon.
    UnsupportedGeometry,
    /// A geometry without any polygon.
    Empty,
    /// A ring with fewer than 4 positions.
    TooFewPositions,
    /// A ring whose first and last positions differ.
    UnclosedRing,
    /// A coordinate that is NaN or infinite.
    NonFinite,
    /// Longitude outside [-180, 180] or latitude outside [-90, 90].
    OutOfRange,
    /// A ring or polygon enclosing no area.
    ZeroArea,
    /// Edges that cross or overlap.
    SelfIntersection,
    /// Other topology problems (hole outside its shell, overlapping polygons, ...).
    Topology,
    /// A malformed CAP polygon string.
    Cap,
}

/// A geometry error. `message` names what is wrong and where
/// (e.g. `feature 3: polygon 0 ring 1 is not closed`); `path` is a JSON-style field path
/// (e.g. `features[3].geometry.coordinates[0][1]`, empty for the document root).
#[derive(Debug, Clone, PartialEq)]
pub struct GeoError {
    pub kind: GeoErrorKind,
    pub message: String,
    pub path: String,
}

impl GeoError {
    pub fn new(kind: GeoErrorKind, message: impl Into<String>, path: impl Into<String>) -> Self {
        GeoError {
            kind,
            message: message.into(),
            path: path.into(),
        }
    }
}

impl fmt::Display for GeoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for GeoError {}
