//! The transcendental functions the shared code and the page compute with (great circles, the map's projection,
//! colour scales). In the page (wasm32) they are the browser's own `Math` functions: Rust's, from the `libm` port
//! in `compiler_builtins`, put their code and tables into the module: 8.5 kB of it gzipped (BENCHMARKS.md, "WASM
//! bundle size"). Everywhere else they are the standard library's. Results agree to the last bit or two;
//! nothing here depends on more.
//!
//! Code that the page runs calls these instead of `f64::sin` and the like (`clippy.toml` of `shared` and of the
//! page disallows those methods; this module is the one place that calls them).
#![allow(clippy::disallowed_methods)]

#[cfg(target_arch = "wasm32")]
use js_sys::Math;

/// Each function: the browser's `Math.$js` in the page, `f64::$name` (called on the first argument) elsewhere.
macro_rules! browser_or_std {
    ($($(#[$doc:meta])* fn $name:ident($x:ident $(, $y:ident)?) => $js:ident;)*) => {$(
        $(#[$doc])*
        #[inline]
        pub fn $name($x: f64 $(, $y: f64)?) -> f64 {
            #[cfg(target_arch = "wasm32")]
            return Math::$js($x $(, $y)?);
            #[cfg(not(target_arch = "wasm32"))]
            return $x.$name($($y)?);
        }
    )*};
}

browser_or_std! {
    /// Sine of `x` radians.
    fn sin(x) => sin;
    /// Cosine of `x` radians.
    fn cos(x) => cos;
    /// Tangent of `x` radians.
    fn tan(x) => tan;
    /// Arcsine, in radians.
    fn asin(x) => asin;
    /// Natural logarithm.
    fn ln(x) => log;
    /// The angle of the point (`x`, `y`) from the x axis, in radians: `y.atan2(x)`.
    fn atan2(y, x) => atan2;
    /// `base` to the power `exponent`.
    fn powf(base, exponent) => pow;
    /// The length of the vector (`x`, `y`), without overflow or underflow in between.
    fn hypot(x, y) => hypot;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_function_is_the_standard_one_natively() {
        let x = 0.7_f64;
        assert_eq!([sin(x), cos(x), tan(x), asin(x), ln(x)], [x.sin(), x.cos(), x.tan(), x.asin(), x.ln()]);
        assert_eq!([atan2(1.0, -2.0), powf(2.0, 0.5), hypot(3.0, 4.0)], [1f64.atan2(-2.0), 2f64.powf(0.5), 5.0]);
    }
}
