//! warden-geo: Warden's geography.
//!
//! * built-in admin-1 areas and countries (Natural Earth, public domain), embedded in the
//!   binary: [`builtin_areas`], [`builtin_countries`];
//! * point → area lookup with an R-tree and banded point-in-polygon tests: [`AreaIndex`];
//! * GeoJSON (RFC 7946) import with precise errors and export: [`parse_geojson`],
//!   [`to_geojson_geometry`], [`validate_multipolygon`];
//! * CAP 1.2 polygon strings: [`cap_polygons`], [`parse_cap_polygon`];
//! * display simplification: [`simplify_for_display`].
//!
//! No I/O besides decoding the embedded data; no async; no database.

mod builtin;
mod cap;
mod error;
mod geojson;
mod index;
mod ops;
mod places;
mod validate;

pub use builtin::{
    builtin_areas, builtin_countries, builtin_index, builtin_shapes, BuiltinArea, Country,
    NAME_LANGUAGES,
};
pub use cap::{cap_polygons, parse_cap_polygon};
pub use error::{GeoError, GeoErrorKind};
pub use geojson::{parse_geojson, read_stored_geometry, to_geojson_geometry, ImportedFeature};
pub use index::{AreaIndex, AreaShape};
pub use ops::{bounds, simplify_for_display, union_bounds};
pub use places::{
    airport, airports, cities, find_cities, resolve_place, search_places, Airport, City,
    PlaceError, PlaceMatch,
};
pub use validate::validate_multipolygon;

/// Re-export of the `geo` crate used in this API.
pub use geo;

#[cfg(test)]
mod tests;
