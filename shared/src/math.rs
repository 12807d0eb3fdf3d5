//! The transcendental functions the shared code and the page compute with (great circles, the map's projection,
//! colour scales). In the page (wasm32) they are the browser's own `Math` functions: Rust's, from the `libm` port
//! in `compiler_builtins`, would put about 18 KB of code and tables into the module (7 kB gzip, BENCHMARKS.md,
//! "WASM bundle size"). Everywhere else they are the standard library's. Results agree to the last bit or two;
//! nothing here depends on more.
//!
//! Code that the page runs calls these instead of `f64::sin` and the like (`clippy.toml` of `shared` and of the
//! page disallows those methods; this module is the one place that calls them).
#![allow(clippy::disallowed_methods)]

#[cfg(target_arch = "wasm32")]
use js_sys::Math;

macro_rules! unary {
    ($($(#[$doc:meta])* $name:ident => $js:ident;)*) => {$(
        $(#[$doc])*
        #[inline]
        pub fn $name(x: f64) -> f64 {
            #[cfg(target_arch = "wasm32")]
            return Math::$js(x);
            #[cfg(not(target_arch = "wasm32"))]
            return x.$name();
        }
    )*};
}

unary! {
    /// Sine of `x` radians.
    sin => sin;
    /// Cosine of `x` radians.
    cos => cos;
    /// Tangent of `x` radians.
    tan => tan;
    /// Arcsine, in radians.
    asin => asin;
    /// Natural logarithm.
    ln => log;
}

/// The angle of the point (`x`, `y`) from the x axis, in radians: `y.atan2(x)`.
#[inline]
pub fn atan2(y: f64, x: f64) -> f64 {
    #[cfg(target_arch = "wasm32")]
    return Math::atan2(y, x);
    #[cfg(not(target_arch = "wasm32"))]
    return y.atan2(x);
}

/// `base` to the power `exponent`.
#[inline]
pub fn powf(base: f64, exponent: f64) -> f64 {
    #[cfg(target_arch = "wasm32")]
    return Math::pow(base, exponent);
    #[cfg(not(target_arch = "wasm32"))]
    return base.powf(exponent);
}

/// The length of the vector (`x`, `y`), without overflow or underflow in between.
#[inline]
pub fn hypot(x: f64, y: f64) -> f64 {
    #[cfg(target_arch = "wasm32")]
    return Math::hypot(x, y);
    #[cfg(not(target_arch = "wasm32"))]
    return x.hypot(y);
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
