//! [`Cost`]: an exact amount of money in pico-dollars, and its conversion to dollars.

const PICO_PER_DOLLAR: u128 = 1_000_000_000_000;
/// An exact amount of money, in pico-dollars (10⁻¹² $).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Cost {
    pico_dollars: u128,
}

impl Cost {
    /// Nothing.
    pub const ZERO: Self = Self { pico_dollars: 0 };

    /// From pico-dollars.
    #[must_use]
    pub const fn from_pico_dollars(pico_dollars: u128) -> Self {
        Self { pico_dollars }
    }

    /// The exact amount in pico-dollars.
    #[must_use]
    pub const fn pico_dollars(self) -> u128 {
        self.pico_dollars
    }

    /// The amount in dollars, rounded once to the nearest `f64`.
    #[must_use]
    pub fn as_dollars(self) -> f64 {
        pico_to_dollars(self.pico_dollars)
    }
}

impl std::ops::Add for Cost {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        Self {
            pico_dollars: self.pico_dollars.saturating_add(rhs.pico_dollars),
        }
    }
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, rhs: Self) {
        *self = *self + rhs;
    }
}

impl std::iter::Sum for Cost {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::ZERO, |a, b| a + b)
    }
}

#[allow(clippy::cast_precision_loss)]
pub(super) fn pico_to_dollars(pico: u128) -> f64 {
    let whole = pico / PICO_PER_DOLLAR;
    let fraction = pico % PICO_PER_DOLLAR;
    if whole == 0 {
        // Both operands exact (below 2^53): one correctly rounded division.
        fraction as f64 / 1e12
    } else {
        whole as f64 + fraction as f64 / 1e12
    }
}
