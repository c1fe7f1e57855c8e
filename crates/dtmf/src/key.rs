//! The sixteen DTMF keys and their frequencies (ITU-T Q.23).

use std::fmt;

/// Row (low group) frequencies in Hz, ITU-T Q.23.
pub const ROW_HZ: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
/// Column (high group) frequencies in Hz, ITU-T Q.23.
pub const COL_HZ: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];

/// A DTMF key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// `0`
    D0,
    /// `1`
    D1,
    /// `2`
    D2,
    /// `3`
    D3,
    /// `4`
    D4,
    /// `5`
    D5,
    /// `6`
    D6,
    /// `7`
    D7,
    /// `8`
    D8,
    /// `9`
    D9,
    /// `*`
    Star,
    /// `#`
    Hash,
    /// `A` (fourth column; rare on consumer phones)
    A,
    /// `B`
    B,
    /// `C`
    C,
    /// `D`
    D,
}

const GRID: [[Key; 4]; 4] = [
    [Key::D1, Key::D2, Key::D3, Key::A],
    [Key::D4, Key::D5, Key::D6, Key::B],
    [Key::D7, Key::D8, Key::D9, Key::C],
    [Key::Star, Key::D0, Key::Hash, Key::D],
];

impl Key {
    /// Every key, in keypad order (row by row).
    pub const ALL: [Key; 16] = [
        Key::D1,
        Key::D2,
        Key::D3,
        Key::A,
        Key::D4,
        Key::D5,
        Key::D6,
        Key::B,
        Key::D7,
        Key::D8,
        Key::D9,
        Key::C,
        Key::Star,
        Key::D0,
        Key::Hash,
        Key::D,
    ];

    /// The key at a keypad position (row and column 0-3).
    pub(crate) fn at(row: usize, col: usize) -> Key {
        GRID[row][col]
    }

    /// Keypad position (row, column), each 0-3.
    pub fn position(self) -> (usize, usize) {
        let index = Key::ALL
            .iter()
            .position(|&k| k == self)
            .expect("Key::ALL lists every key");
        (index / 4, index % 4)
    }

    /// Nominal (row, column) frequencies in Hz.
    pub fn frequencies(self) -> (f64, f64) {
        let (row, col) = self.position();
        (ROW_HZ[row], COL_HZ[col])
    }

    /// True for the fourth-column keys `A`-`D`.
    pub fn is_extended(self) -> bool {
        self.position().1 == 3
    }

    /// The key's character: `0`-`9`, `*`, `#`, `A`-`D`.
    pub fn as_char(self) -> char {
        match self {
            Key::D0 => '0',
            Key::D1 => '1',
            Key::D2 => '2',
            Key::D3 => '3',
            Key::D4 => '4',
            Key::D5 => '5',
            Key::D6 => '6',
            Key::D7 => '7',
            Key::D8 => '8',
            Key::D9 => '9',
            Key::Star => '*',
            Key::Hash => '#',
            Key::A => 'A',
            Key::B => 'B',
            Key::C => 'C',
            Key::D => 'D',
        }
    }

    /// The key for a character (`a`-`d` accepted in either case), or `None`.
    pub fn from_char(c: char) -> Option<Key> {
        Key::ALL
            .into_iter()
            .find(|k| k.as_char() == c.to_ascii_uppercase())
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chars_round_trip() {
        for key in Key::ALL {
            assert_eq!(Key::from_char(key.as_char()), Some(key));
        }
        assert_eq!(Key::from_char('b'), Some(Key::B));
        assert_eq!(Key::from_char('x'), None);
    }

    #[test]
    fn grid_matches_q23() {
        assert_eq!(Key::D1.frequencies(), (697.0, 1209.0));
        assert_eq!(Key::D5.frequencies(), (770.0, 1336.0));
        assert_eq!(Key::D0.frequencies(), (941.0, 1336.0));
        assert_eq!(Key::Hash.frequencies(), (941.0, 1477.0));
        assert_eq!(Key::C.frequencies(), (852.0, 1633.0));
        for key in Key::ALL {
            let (r, c) = key.position();
            assert_eq!(Key::at(r, c), key);
            assert_eq!(key.is_extended(), c == 3);
        }
    }
}
