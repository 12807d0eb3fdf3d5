// Writes the page's offline basemap: Natural Earth's 1:110m countries from npm world-atlas, made smaller for the
// first visit (38 → about 23 kB gzip). Run by Trunk before each build (Trunk.toml [[hooks]]); idempotent and
// offline: it rewrites its output only when the input is newer.
//
// What goes: the `land` object (the page draws `countries`), each country's name and id (the basemap is not
// interactive), and precision the map never shows: coordinates are re-quantized from a 100,000-step grid to a
// 5,000-step one (0.072° of longitude a step, so a point moves at most 0.036°: under two pixels at zoom 6, the
// closest the route is fitted to, and within the 1:110m outlines' own error), dropping the points that land on their
// predecessor. Arc ends stay, so neighbouring countries still share their borders exactly. 10,000 steps: 25.7 kB
// gzip; 5,000: 22.9 kB. (Dropping points as well, by Visvalingam's areas, saves little until the outlines visibly
// coarsen: 3.3 kB for a quarter of the points.) Each arc is then written as one packed string instead of an array
// of pairs (the format is described in shared/src/topojson.rs, which reads both): 22.9 -> 19.6 kB gzip -9.
//
// Usage: node scripts/slim-basemap.mjs [input] [output]
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

const input = process.argv[2] ?? "node_modules/world-atlas/countries-110m.json";
const output = process.argv[3] ?? "target/basemap/countries-110m.json";
const STEPS = 5_000;

const mtime = (path) => { try { return statSync(path).mtimeMs; } catch { return -1; } };
if (mtime(output) >= mtime(input) && mtime(output) >= mtime(new URL(import.meta.url))) process.exit(0);

const topology = JSON.parse(readFileSync(input, "utf8"));
const countries = topology.objects?.countries;
if (!countries || !topology.transform || !Array.isArray(topology.arcs)) {
  console.error(`slim-basemap: ${input} is not a quantized world-atlas topology with a "countries" object`);
  process.exit(1);
}
// The source grid: the number of steps across the bounding box (world-atlas: 1e5).
const [west, south, east, north] = topology.bbox;
const [sx, sy] = topology.transform.scale;
const fx = (east - west) / sx / (STEPS - 1);
const fy = (north - south) / sy / (STEPS - 1);

const arcs = topology.arcs.map((arc) => {
  let x = 0, y = 0;
  const points = arc.map(([dx, dy]) => [Math.round((x += dx) / fx), Math.round((y += dy) / fy)]);
  const out = [];
  let px = 0, py = 0;
  points.forEach(([qx, qy], i) => {
    const last = i === points.length - 1;
    if (i > 0 && qx === px && qy === py && !last) return;
    out.push(i === 0 ? [qx, qy] : [qx - px, qy - py]);
    px = qx; py = qy;
  });
  // A small island's ring keeps its four points (a ring needs them), repeated points and all.
  if (out.length < Math.min(4, points.length)) {
    return points.map(([qx, qy], i) => (i === 0 ? [qx, qy] : [qx - points[i - 1][0], qy - points[i - 1][1]]));
  }
  return out;
});
// An arc's delta-encoded integers, x then y, zigzag-encoded and written 5 bits a character, low bits first; a
// character of value 32 or more says another one follows.
const DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const pack = (arc) => arc.flat().map((n) => {
  let z = n < 0 ? -2 * n - 1 : 2 * n;
  let out = "";
  while (z >= 32) { out += DIGITS[32 + (z % 32)]; z = Math.floor(z / 32); }
  return out + DIGITS[z];
}).join("");
const geometries = countries.geometries.map(({ type, arcs }) => ({ type, arcs }));
const slim = {
  type: "Topology",
  bbox: topology.bbox,
  transform: { scale: [sx * fx, sy * fy], translate: topology.transform.translate },
  objects: { countries: { type: "GeometryCollection", geometries } },
  arcs: arcs.map(pack),
};
mkdirSync(dirname(output), { recursive: true });
writeFileSync(output, JSON.stringify(slim));
console.error(`slim-basemap: ${output}: ${arcs.reduce((n, a) => n + a.length, 0)} points`);
