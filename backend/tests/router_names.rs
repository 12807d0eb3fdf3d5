//! Router names read for places, measured on a corpus (`tests/data/router-names.tsv`, written for these tests in
//! the conventions of Zayo, Cogent, Lumen, NTT, Arelion, GTT, HE, Tata, Google, CloudFront, Comcast and others,
//! plus names that say nowhere) against the real place table that `scripts/setup.sh` fetches into `data/places/`
//! (or `TRACEMAP_PLACES_DIR`). Precision must stay at or above 95 %, recall at or above 80 %.
//!
//! Without the table the test says so and passes, except under `CI=true`, where it fails.

use std::path::PathBuf;
use std::time::Instant;

use tracemap::enrich::PlaceTable;
use tracemap::enrich::names::hints;
use tracemap::enrich::places::normalise;
use tracemap_shared::place::distance_km;

/// A reading counts as right when it names the city or lies this close to it (an airport, a suburb).
const SAME_PLACE_KM: f64 = 80.0;

fn places_dir() -> PathBuf {
    std::env::var_os("TRACEMAP_PLACES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/places"))
}

fn table() -> Option<PlaceTable> {
    let dir = places_dir();
    match PlaceTable::open(&dir) {
        Ok(Some(table)) => Some(table),
        other => {
            let why = format!("NOT RUN: no place table in {} ({other:?}); scripts/setup.sh fetches it", dir.display());
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
            eprintln!("{why}");
            None
        }
    }
}

#[test]
fn corpus_precision_and_recall() {
    let Some(table) = table() else { return };
    let corpus = include_str!("data/router-names.tsv");
    let (mut positives, mut predicted, mut right) = (0usize, 0usize, 0usize);
    let mut wrong = Vec::new();
    let mut missed = Vec::new();
    for line in corpus.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (name, city) = line.split_once('\t').unwrap_or((line, ""));
        let expected = city.trim();
        if !expected.is_empty() {
            positives += 1;
        }
        let found = hints(name, &table);
        let Some(best) = found.first() else {
            if !expected.is_empty() {
                missed.push(format!("{name} (means {expected})"));
            }
            continue;
        };
        predicted += 1;
        let near = table
            .city(&normalise(expected))
            .first()
            .is_some_and(|city| distance_km(city.lat, city.lon, best.place.lat, best.place.lon) <= SAME_PLACE_KM);
        if !expected.is_empty() && (normalise(&best.place.name) == normalise(expected) || near) {
            right += 1;
        } else {
            wrong.push(format!("{name}: read {} as {} (means {expected:?})", best.token, best.place.name));
        }
    }
    let precision = right as f64 / predicted.max(1) as f64;
    let recall = right as f64 / positives.max(1) as f64;
    println!(
        "router names: {positives} that name a place, {predicted} read, {right} right: precision {:.1} %, recall {:.1} %",
        precision * 100.0,
        recall * 100.0
    );
    println!("wrong:\n  {}", wrong.join("\n  "));
    println!("missed:\n  {}", missed.join("\n  "));
    assert!(positives >= 100, "the corpus must hold at least 100 named routers");
    assert!(precision >= 0.95, "precision {precision:.3} below 0.95; wrong: {wrong:#?}");
    assert!(recall >= 0.80, "recall {recall:.3} below 0.80; missed: {missed:#?}");
}

#[test]
fn the_cached_index_reads_back_the_same_table() {
    let Some(first) = table() else { return };
    // The first open above wrote the index (when the folder is writable); this one reads it.
    let started = Instant::now();
    let again = PlaceTable::open(&places_dir()).expect("opens").expect("present");
    let took = started.elapsed();
    println!("place index: {} entries in {took:?}", again.len());
    assert_eq!(again.len(), first.len());
}
