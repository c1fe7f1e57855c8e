//! A minimal complex number for the detector's per-block arithmetic.

use std::ops::{Add, Div, Mul, Sub};

/// A complex number in double precision; `repr(C)` so that the SIMD kernel can write arrays
/// of them as pairs of `f64`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[repr(C)]
pub(crate) struct Complex {
    pub(crate) re: f64,
    pub(crate) im: f64,
}

impl Complex {
    pub(crate) const fn new(re: f64, im: f64) -> Complex {
        Complex { re, im }
    }

    /// `e^(i * angle)`
    pub(crate) fn unit(angle: f64) -> Complex {
        Complex::new(angle.cos(), angle.sin())
    }

    pub(crate) fn conj(self) -> Complex {
        Complex::new(self.re, -self.im)
    }

    pub(crate) fn norm_sqr(self) -> f64 {
        self.re * self.re + self.im * self.im
    }

    pub(crate) fn abs(self) -> f64 {
        // values here are far from overflow, so the plain formula is safe and much faster than hypot
        (self.re * self.re + self.im * self.im).sqrt()
    }

    pub(crate) fn arg(self) -> f64 {
        self.im.atan2(self.re)
    }

    pub(crate) fn scale(self, k: f64) -> Complex {
        Complex::new(self.re * k, self.im * k)
    }
}

impl Add for Complex {
    type Output = Complex;
    fn add(self, o: Complex) -> Complex {
        Complex::new(self.re + o.re, self.im + o.im)
    }
}

impl Sub for Complex {
    type Output = Complex;
    fn sub(self, o: Complex) -> Complex {
        Complex::new(self.re - o.re, self.im - o.im)
    }
}

impl Mul for Complex {
    type Output = Complex;
    fn mul(self, o: Complex) -> Complex {
        Complex::new(
            self.re * o.re - self.im * o.im,
            self.re * o.im + self.im * o.re,
        )
    }
}

impl Div for Complex {
    type Output = Complex;
    fn div(self, o: Complex) -> Complex {
        let d = o.norm_sqr();
        Complex::new(
            (self.re * o.re + self.im * o.im) / d,
            (self.im * o.re - self.re * o.im) / d,
        )
    }
}

/// Wraps an angle into `(-π, π]`.
pub(crate) fn wrap(angle: f64) -> f64 {
    let a = angle.rem_euclid(std::f64::consts::TAU);
    if a > std::f64::consts::PI {
        a - std::f64::consts::TAU
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic() {
        let a = Complex::new(1.0, 2.0);
        let b = Complex::new(-3.0, 0.5);
        assert_eq!(a * b, Complex::new(-4.0, -5.5));
        let q = (a * b) / b;
        assert!((q - a).abs() < 1e-12);
        assert!((Complex::unit(0.3).arg() - 0.3).abs() < 1e-12);
        assert!((wrap(3.0 * std::f64::consts::PI) - std::f64::consts::PI).abs() < 1e-12);
        assert!((wrap(-0.5) + 0.5).abs() < 1e-12);
    }
}
