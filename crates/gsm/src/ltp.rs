//! Long-term (pitch) synthesis filtering (GSM 06.10 §4.3.2): adds a scaled copy of the
//! reconstructed residual from one pitch lag ago to the RPE excitation.

use crate::arith::{add, mult_r};
use crate::rpe::SUBFRAME_LEN;

/// Shortest valid LTP lag Nc (§4.3.2).
const MIN_LAG: u8 = 40;
/// Longest valid LTP lag Nc, and so the residual history the filter must keep (§4.3.2).
const MAX_LAG: u8 = 120;
/// Residual history kept between sub-segments.
const HISTORY: usize = MAX_LAG as usize;
/// Decoded LTP gains QLB\[0..3\] for the gain codes bc (table 4.3b).
const QLB: [i16; 4] = [3277, 11469, 21299, 32767];

/// State of the long-term synthesis filter.
#[derive(Debug, Clone)]
pub(crate) struct LongTermSynthesis {
    /// Reconstructed residual drp\[-120..-1\], oldest first.
    history: [i16; HISTORY],
    /// Last valid lag nrp, reused when a frame carries an out-of-range lag.
    lag: u8,
}

impl Default for LongTermSynthesis {
    fn default() -> Self {
        // The standard's home state starts nrp at the shortest lag.
        Self {
            history: [0; HISTORY],
            lag: MIN_LAG,
        }
    }
}

impl LongTermSynthesis {
    /// Filters one sub-segment's excitation `erp` into the reconstructed residual drp.
    pub(crate) fn filter(
        &mut self,
        lag_code: u8,
        gain_code: u8,
        erp: &[i16; SUBFRAME_LEN],
    ) -> [i16; SUBFRAME_LEN] {
        // A 7-bit lag can be outside 40..=120 (bit errors, hostile input); the standard then
        // keeps the previous lag rather than reading outside the history.
        if (MIN_LAG..=MAX_LAG).contains(&lag_code) {
            self.lag = lag_code;
        }
        let gain = QLB[usize::from(gain_code & 3)];
        // With lag >= 40 and k < 40, drp[k - lag] always lies in the history, never in the
        // sub-segment being computed.
        let start = HISTORY - usize::from(self.lag);
        let mut drp = [0; SUBFRAME_LEN];
        for ((out, &e), &past) in drp.iter_mut().zip(erp).zip(&self.history[start..]) {
            *out = add(e, mult_r(gain, past));
        }
        self.history.copy_within(SUBFRAME_LEN.., 0);
        self.history[HISTORY - SUBFRAME_LEN..].copy_from_slice(&drp);
        drp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn impulse() -> [i16; SUBFRAME_LEN] {
        let mut erp = [0; SUBFRAME_LEN];
        erp[0] = 10_000;
        erp
    }

    #[test]
    fn echoes_the_residual_one_lag_later() {
        let mut ltp = LongTermSynthesis::default();
        let silence = [0; SUBFRAME_LEN];
        assert_eq!(ltp.filter(50, 3, &impulse())[0], 10_000);
        // Lag 50: the impulse at absolute time 0 reappears at time 50 = sub-segment 1, k 10,
        // scaled by QLB[3] (just under 1).
        let echo = ltp.filter(50, 3, &silence);
        assert_eq!(echo[10], mult_r(32767, 10_000));
        assert_eq!(echo.iter().filter(|&&x| x != 0).count(), 1);
    }

    #[test]
    fn out_of_range_lag_keeps_the_previous_one() {
        let mut a = LongTermSynthesis::default();
        let mut b = LongTermSynthesis::default();
        a.filter(77, 2, &impulse());
        b.filter(77, 2, &impulse());
        for bad in [0, 39, 121, 127] {
            assert_eq!(
                a.filter(bad, 2, &[0; SUBFRAME_LEN]),
                b.filter(77, 2, &[0; SUBFRAME_LEN])
            );
        }
    }

    #[test]
    fn history_saturates_instead_of_wrapping() {
        let mut ltp = LongTermSynthesis::default();
        let loud = [i16::MAX; SUBFRAME_LEN];
        for _ in 0..4 {
            assert!(ltp.filter(40, 3, &loud).iter().all(|&x| x == i16::MAX));
        }
    }
}
