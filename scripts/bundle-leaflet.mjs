// Writes the page's Leaflet into target/leaflet/: leaflet.js, only the parts the page calls (scripts/leaflet-entry.mjs
// says which), bundled from Leaflet's ES-module sources in npm `leaflet/src/` and minified by esbuild (npm, a
// devDependency) as one classic script that sets the global `L`, about 114 KB raw instead of the 148 KB of
// `leaflet/dist/leaflet.js`; and leaflet.css, Leaflet's stylesheet without the rules for what the bundle leaves out.
// Run by Trunk before each build (Trunk.toml [[hooks]]); offline and idempotent: the output is rewritten only when
// its bytes change, so an unchanged build leaves it (and its mtime) alone.
//
// Four modules are replaced by stand-ins, so code that never runs on the page is not shipped. Three sit behind a
// check Leaflet itself makes: the canvas renderer (used only with the map option `preferCanvas`, which the page
// never sets), marker dragging (`Marker` skips it when `MarkerDrag` is empty; no marker is draggable) and SVG's VML
// fallback for Internet Explorer 8 (used only where `Browser.svg` is false). The fourth is the default marker icon,
// Leaflet's blue pin image: every marker the page makes has its own div icon, so `Icon.Default` is `DivIcon` here
// (a marker made without an icon would show a plain white square, not fail) and the pin images are not copied.
//
// The stylesheet loses only rules whose selectors name a class that nothing in the bundle sets (checked below: the
// build fails if the bundle ever names one): popups, the layers and scale controls, box zoom, image overlays,
// draggable markers, the default icon and VML. A rule that lists other selectors too keeps those.
//
// Usage: node scripts/bundle-leaflet.mjs [output directory]
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

const entry = "scripts/leaflet-entry.mjs";
const outDir = process.argv[2] ?? "target/leaflet";
// The classes of what is left out (`leaflet-popup-pane` stays: Map creates that pane whatever is bundled).
const leftOut = new RegExp(
  "\\.leaflet-(popup(?!-pane)|control-layers|control-scale|zoom-box|crosshair|image-layer|marker-draggable|vml-shape" +
    "|default-icon-path)\\b|\\.lvml\\b",
);

let esbuild;
try {
  esbuild = await import("esbuild");
} catch (e) {
  console.error(`bundle-leaflet: esbuild is missing (npm ci installs it from package.json): ${e.message}`);
  process.exit(1);
}

const stubs = [
  [/leaflet\/src\/layer\/vector\/Canvas\.js$/, "export function canvas() { return null; }"],
  [/leaflet\/src\/layer\/marker\/Marker\.Drag\.js$/, "export var MarkerDrag = null;"],
  [/leaflet\/src\/layer\/vector\/SVG\.VML\.js$/, "export var vmlMixin = {}, vmlCreate = null;"],
  [/leaflet\/src\/layer\/marker\/Icon\.Default\.js$/, 'export { DivIcon as IconDefault } from "./DivIcon";'],
];
const leaflet = JSON.parse(readFileSync("node_modules/leaflet/package.json", "utf8"));
const result = await esbuild.build({
  entryPoints: [entry],
  bundle: true,
  format: "iife",
  minify: true,
  target: "es2020",
  write: false,
  logLevel: "warning",
  // Leaflet's dist file carries its copyright line; so does this one (BSD-2-Clause).
  banner: {
    js: `/* Leaflet ${leaflet.version} (the parts tracemap uses), https://leafletjs.com, (c) 2010-2023 Vladimir ` +
      `Agafonkin, (c) 2010-2011 CloudMade; BSD-2-Clause. Bundled by esbuild ${esbuild.version}. */`,
  },
  plugins: [{
    name: "leaflet-stubs",
    setup(build) {
      for (const [filter, contents] of stubs) {
        build.onLoad({ filter }, (args) => ({ contents, loader: "js", resolveDir: dirname(args.path) }));
      }
    },
  }],
});
const script = Buffer.from(result.outputFiles[0].contents);
for (const name of script.toString("utf8").match(/leaflet-[\w-]*/g)) {
  if (leftOut.test(`.${name}`)) {
    console.error(`bundle-leaflet: the bundle sets the class ${name}, whose styles this script drops: keep them`);
    process.exit(1);
  }
}

// leaflet.css has no nesting beyond one `@media print` block of plain rules: each innermost `selectors { body }`
// is one rule. Comments go first (they hold braces and commas).
let dropped = 0;
const css = readFileSync("node_modules/leaflet/dist/leaflet.css", "utf8")
  .replace(/\/\*[\s\S]*?\*\//g, "")
  .replace(/([^{}]+)\{([^{}]*)\}/g, (_, selectors, body) => {
    const kept = selectors.split(",").map((s) => s.trim()).filter((s) => !leftOut.test(s));
    dropped += selectors.split(",").length - kept.length;
    return kept.length ? `\n${kept.join(",\n")} {${body}}` : "";
  })
  .replace(/@media[^{}]*\{\s*\}/g, "");
if (dropped < 40 || !css.includes(".leaflet-tooltip") || !css.includes(".leaflet-control-zoom-in")) {
  console.error(`bundle-leaflet: leaflet.css did not trim as expected (${dropped} selectors dropped): has it changed?`);
  process.exit(1);
}

mkdirSync(outDir, { recursive: true });
for (const [name, bytes] of [["leaflet.js", script], ["leaflet.css", Buffer.from(css)]]) {
  const path = join(outDir, name);
  let old = null;
  try { old = readFileSync(path); } catch { /* first build */ }
  if (old === null || !old.equals(bytes)) {
    writeFileSync(path, bytes);
    console.error(`bundle-leaflet: ${path}: ${bytes.length} bytes`);
  }
}
