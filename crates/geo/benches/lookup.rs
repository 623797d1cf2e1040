//! Point → area lookup throughput over all built-in admin-1 areas.
//!
//! `cargo bench -p warden-geo` — 100,000 fixed pseudo-random points (xorshift, fixed seed):
//! 70 % jittered by up to ±0.5° around area label points (on land, near borders too), 30 %
//! uniform over lon [-180, 180] × lat [-60, 75] (mostly ocean).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use warden_geo::{builtin_areas, AreaIndex, AreaShape};

pub struct XorShift(u64);

impl XorShift {
    fn next_f64(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn points(labels: &[(f64, f64)], n: usize) -> Vec<(f64, f64)> {
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    (0..n)
        .map(|_| {
            if rng.next_f64() < 0.7 {
                let (lon, lat) =
                    labels[(rng.next_f64() * labels.len() as f64) as usize % labels.len()];
                (
                    (lon + (rng.next_f64() - 0.5)).clamp(-180.0, 180.0),
                    (lat + (rng.next_f64() - 0.5)).clamp(-90.0, 90.0),
                )
            } else {
                (
                    rng.next_f64() * 360.0 - 180.0,
                    rng.next_f64() * 135.0 - 60.0,
                )
            }
        })
        .collect()
}

fn bench_lookup(c: &mut Criterion) {
    let areas = builtin_areas();
    let labels: Vec<(f64, f64)> = areas.iter().map(|a| a.label).collect();
    let index = AreaIndex::new(
        areas
            .into_iter()
            .map(|a| AreaShape {
                code: a.code,
                priority: 0,
                geometry: a.geometry,
            })
            .collect(),
    );
    let pts = points(&labels, 100_000);
    let hits = pts
        .iter()
        .filter(|(x, y)| index.lookup(*x, *y).is_some())
        .count();
    eprintln!(
        "{} areas, {} points, {} inside an area",
        index.len(),
        pts.len(),
        hits
    );

    let mut g = c.benchmark_group("lookup");
    g.throughput(Throughput::Elements(pts.len() as u64));
    g.sample_size(20);
    g.bench_function("builtin_admin1_100k_points", |b| {
        b.iter(|| {
            let mut found = 0usize;
            for &(x, y) in &pts {
                if black_box(index.lookup(black_box(x), black_box(y))).is_some() {
                    found += 1;
                }
            }
            found
        })
    });
    g.finish();
}

criterion_group!(benches, bench_lookup);
criterion_main!(benches);
