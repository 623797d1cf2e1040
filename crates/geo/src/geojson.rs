//! GeoJSON (RFC 7946) import and export of polygonal geometry.

use geo::{Coord, LineString, MultiPolygon, Orient, Polygon};
use serde_json::{Map, Value};

use crate::error::{GeoError, GeoErrorKind};
use crate::validate::{validate_rings, Ctx};

/// One polygonal feature read from a GeoJSON document.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedFeature {
    /// Position in the `features` array (0 for a single Feature or a bare geometry).
    pub index: usize,
    /// The feature's `properties` (empty for a bare geometry or `"properties": null`).
    pub properties: Map<String, Value>,
    pub geometry: MultiPolygon<f64>,
}

fn json_error(e: &serde_json::Error) -> GeoError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let msg = full.strip_suffix(&suffix).unwrap_or(&full);
    GeoError::new(
        GeoErrorKind::Json,
        format!(
            "invalid JSON at line {} column {}: {msg}",
            e.line(),
            e.column()
        ),
        "",
    )
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn join(path: &str, member: &str) -> String {
    if path.is_empty() {
        member.to_string()
    } else {
        format!("{path}.{member}")
    }
}

fn structure(prefix: &str, what: String, path: String) -> GeoError {
    GeoError::new(GeoErrorKind::Structure, format!("{prefix}{what}"), path)
}

/// Parse a GeoJSON document: a FeatureCollection, a Feature, or a bare Polygon / MultiPolygon.
/// Every polygon is validated (see [`crate::validate_multipolygon`]); the first problem is
/// returned with a message naming the feature, polygon, ring and position, and the field path.
pub fn parse_geojson(text: &str) -> Result<Vec<ImportedFeature>, GeoError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| json_error(&e))?;
    let Value::Object(obj) = &doc else {
        return Err(structure(
            "",
            format!("expected a GeoJSON object, found {}", type_name(&doc)),
            String::new(),
        ));
    };
    let ty = member_type(obj, "", "")?;
    match ty {
        "FeatureCollection" => {
            let features = match obj.get("features") {
                Some(Value::Array(a)) => a,
                Some(other) => {
                    return Err(structure(
                        "",
                        format!("\"features\" must be an array, found {}", type_name(other)),
                        "features".into(),
                    ))
                }
                None => {
                    return Err(structure(
                        "",
                        "FeatureCollection has no \"features\" member".into(),
                        "features".into(),
                    ))
                }
            };
            let mut out = Vec::with_capacity(features.len());
            for (i, f) in features.iter().enumerate() {
                out.push(parse_feature(
                    f,
                    i,
                    &format!("feature {i}: "),
                    &format!("features[{i}]"),
                )?);
            }
            Ok(out)
        }
        "Feature" => Ok(vec![parse_feature(&doc, 0, "feature 0: ", "")?]),
        _ => {
            let geometry = parse_geometry(obj, "geometry: ", "")?;
            Ok(vec![ImportedFeature {
                index: 0,
                properties: Map::new(),
                geometry,
            }])
        }
    }
}

fn member_type<'a>(
    obj: &'a Map<String, Value>,
    prefix: &str,
    path: &str,
) -> Result<&'a str, GeoError> {
    match obj.get("type") {
        Some(Value::String(s)) => Ok(s.as_str()),
        Some(other) => Err(structure(
            prefix,
            format!("\"type\" must be a string, found {}", type_name(other)),
            join(path, "type"),
        )),
        None => Err(structure(
            prefix,
            "object has no \"type\" member".into(),
            join(path, "type"),
        )),
    }
}

fn parse_feature(
    v: &Value,
    index: usize,
    prefix: &str,
    path: &str,
) -> Result<ImportedFeature, GeoError> {
    let Value::Object(obj) = v else {
        return Err(structure(
            prefix,
            format!("expected a Feature object, found {}", type_name(v)),
            path.into(),
        ));
    };
    let ty = member_type(obj, prefix, path)?;
    if ty != "Feature" {
        return Err(structure(
            prefix,
            format!("expected type \"Feature\", found \"{ty}\""),
            join(path, "type"),
        ));
    }
    let properties = match obj.get("properties") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => {
            return Err(structure(
                prefix,
                format!(
                    "\"properties\" must be an object or null, found {}",
                    type_name(other)
                ),
                join(path, "properties"),
            ))
        }
    };
    let gpath = join(path, "geometry");
    let geometry = match obj.get("geometry") {
        Some(Value::Object(g)) => parse_geometry(g, prefix, &gpath)?,
        None | Some(Value::Null) => {
            return Err(structure(
                prefix,
                "has no geometry (a Polygon or MultiPolygon is required)".into(),
                gpath,
            ))
        }
        Some(other) => {
            return Err(structure(
                prefix,
                format!("\"geometry\" must be an object, found {}", type_name(other)),
                gpath,
            ))
        }
    };
    Ok(ImportedFeature {
        index,
        properties,
        geometry,
    })
}

fn parse_geometry(
    obj: &Map<String, Value>,
    prefix: &str,
    path: &str,
) -> Result<MultiPolygon<f64>, GeoError> {
    parse_geometry_checked(obj, prefix, path, true)
}

/// Reads a Polygon or MultiPolygon geometry that was validated when it was
/// stored (structure is still checked; topology is not re-validated).
pub fn read_stored_geometry(text: &str) -> Result<MultiPolygon<f64>, GeoError> {
    let v: Value = serde_json::from_str(text).map_err(|e| {
        GeoError::new(
            GeoErrorKind::Json,
            format!(
                "invalid JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ),
            "",
        )
    })?;
    match v {
        Value::Object(obj) => parse_geometry_checked(&obj, "", "", false),
        other => Err(structure(
            "",
            format!("expected a geometry object, found {}", type_name(&other)),
            String::new(),
        )),
    }
}

fn parse_geometry_checked(
    obj: &Map<String, Value>,
    prefix: &str,
    path: &str,
    validate: bool,
) -> Result<MultiPolygon<f64>, GeoError> {
    let ty = member_type(obj, prefix, path)?;
    let single = match ty {
        "Polygon" => true,
        "MultiPolygon" => false,
        "Point" | "MultiPoint" | "LineString" | "MultiLineString" | "GeometryCollection" => {
            return Err(GeoError::new(
                GeoErrorKind::UnsupportedGeometry,
                format!("{prefix}unsupported geometry type {ty} (only Polygon and MultiPolygon are accepted)"),
                join(path, "type"),
            ))
        }
        other => {
            return Err(GeoError::new(
                GeoErrorKind::UnsupportedGeometry,
                format!("{prefix}unknown geometry type \"{other}\" (only Polygon and MultiPolygon are accepted)"),
                join(path, "type"),
            ))
        }
    };
    let cpath = join(path, "coordinates");
    let coords = obj.get("coordinates").ok_or_else(|| {
        structure(
            prefix,
            format!("{ty} has no \"coordinates\" member"),
            cpath.clone(),
        )
    })?;
    let raw: Vec<Vec<Vec<Coord<f64>>>> = if single {
        vec![parse_rings(coords, prefix, &cpath)?]
    } else {
        let arr = as_array(coords, prefix, &cpath, "an array of polygons")?;
        arr.iter()
            .enumerate()
            .map(|(p, v)| parse_rings(v, prefix, &format!("{cpath}[{p}]")))
            .collect::<Result<_, _>>()?
    };
    let ctx = Ctx {
        prefix: prefix.to_string(),
        coords_path: cpath,
        single_polygon: single,
    };
    let slices: Vec<Vec<&[Coord<f64>]>> = raw
        .iter()
        .map(|rings| rings.iter().map(|r| r.as_slice()).collect())
        .collect();
    if validate {
        validate_rings(&slices, &ctx)?;
    }
    Ok(MultiPolygon(
        raw.into_iter()
            .map(|mut rings| {
                let ext = LineString(rings.remove(0));
                Polygon::new(ext, rings.into_iter().map(LineString).collect())
            })
            .collect(),
    ))
}

fn as_array<'a>(
    v: &'a Value,
    prefix: &str,
    path: &str,
    expected: &str,
) -> Result<&'a Vec<Value>, GeoError> {
    match v {
        Value::Array(a) => Ok(a),
        other => Err(structure(
            prefix,
            format!("expected {expected}, found {}", type_name(other)),
            path.into(),
        )),
    }
}

fn parse_rings(v: &Value, prefix: &str, path: &str) -> Result<Vec<Vec<Coord<f64>>>, GeoError> {
    let rings = as_array(v, prefix, path, "an array of linear rings")?;
    rings
        .iter()
        .enumerate()
        .map(|(r, ring)| {
            let rpath = format!("{path}[{r}]");
            let positions = as_array(ring, prefix, &rpath, "a linear ring (an array of positions)")?;
            positions
                .iter()
                .enumerate()
                .map(|(i, pos)| {
                    let ppath = format!("{rpath}[{i}]");
                    let nums = as_array(pos, prefix, &ppath, "a position [longitude, latitude]")?;
                    if nums.len() < 2 {
                        return Err(structure(
                            prefix,
                            format!("position at {ppath} has {} numbers, expected [longitude, latitude]", nums.len()),
                            ppath,
                        ));
                    }
                    let mut xy = [0.0; 2];
                    for (k, n) in nums.iter().take(2).enumerate() {
                        xy[k] = n.as_f64().ok_or_else(|| {
                            structure(
                                prefix,
                                format!("position at {ppath} contains {}, expected a number", type_name(n)),
                                format!("{ppath}[{k}]"),
                            )
                        })?;
                    }
                    Ok(Coord { x: xy[0], y: xy[1] })
                })
                .collect()
        })
        .collect()
}

fn coord_json(c: &Coord<f64>) -> Value {
    Value::Array(vec![num(c.x), num(c.y)])
}

fn num(v: f64) -> Value {
    serde_json::Number::from_f64(v)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn ring_json(ls: &LineString<f64>) -> Value {
    Value::Array(ls.0.iter().map(coord_json).collect())
}

/// RFC 7946 GeoJSON MultiPolygon geometry: exterior rings counter-clockwise, holes clockwise.
pub fn to_geojson_geometry(mp: &MultiPolygon<f64>) -> Value {
    let oriented = mp.orient(geo::orient::Direction::Default);
    let polys: Vec<Value> = oriented
        .0
        .iter()
        .map(|p| {
            let mut rings = vec![ring_json(p.exterior())];
            rings.extend(p.interiors().iter().map(ring_json));
            Value::Array(rings)
        })
        .collect();
    serde_json::json!({ "type": "MultiPolygon", "coordinates": polys })
}
