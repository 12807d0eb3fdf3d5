// The part of Leaflet the page uses, as the global `L` that frontend/src/map/leaflet.rs binds to. Bundled from
// Leaflet's own ES-module sources (npm `leaflet/src/`) by scripts/bundle-leaflet.mjs, a Trunk hook; not run by hand.
//
// Leaflet's handlers and controls register themselves on `Map` when their module is imported (a default option
// plus an init hook), and `Tooltip` adds `bindTooltip` to every layer the same way: the imports below are what the
// page gets. In: the map with drag, scroll-wheel, double-click, touch and keyboard zoom, the zoom and attribution
// controls, layer groups, GeoJSON (which brings marker, polyline and polygon), circles, div icons, tooltips, the
// SVG renderer and tile layers. Out: popups, image/video/SVG overlays, the layers and scale controls, box zoom,
// tap-hold, WMS, every CRS and projection but Web Mercator (Map's default, which it imports itself), and what
// scripts/bundle-leaflet.mjs stubs: the canvas renderer, marker dragging, VML and the default marker icon.
//
// Every name the page calls must be here: a missing one fails at run time, not at build time (the browser tests
// draw a route, its markers, arcs and tooltips).

import { Map, createMap } from "leaflet/src/map/Map";
import "leaflet/src/map/handler/Map.Drag";
import "leaflet/src/map/handler/Map.ScrollWheelZoom";
import "leaflet/src/map/handler/Map.DoubleClickZoom";
import "leaflet/src/map/handler/Map.TouchZoom";
import "leaflet/src/map/handler/Map.Keyboard";
import "leaflet/src/control/Control.Zoom";
import "leaflet/src/control/Control.Attribution";
import { Layer } from "leaflet/src/layer/Layer";
import { LayerGroup, layerGroup } from "leaflet/src/layer/LayerGroup";
import { GeoJSON, geoJSON } from "leaflet/src/layer/GeoJSON";
import "leaflet/src/layer/Tooltip";
import { Polyline, polyline } from "leaflet/src/layer/vector/Polyline";
import { Circle, circle } from "leaflet/src/layer/vector/Circle";
import { SVG, svg } from "leaflet/src/layer/vector/SVG";
import "leaflet/src/layer/vector/Renderer.getRenderer";
import { Marker, marker } from "leaflet/src/layer/marker/Marker";
import { DivIcon, divIcon } from "leaflet/src/layer/marker/DivIcon";
import { TileLayer, tileLayer } from "leaflet/src/layer/tile/TileLayer";

window.L = {
  Map, map: createMap,
  Layer,
  LayerGroup, layerGroup,
  GeoJSON, geoJSON,
  Polyline, polyline,
  Circle, circle,
  SVG, svg,
  Marker, marker,
  DivIcon, divIcon,
  TileLayer, tileLayer,
};
