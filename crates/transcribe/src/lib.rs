//! Reference transcription of callscore's comment clips.
//!
//! callscore hands every spoken comment on as a transcription request (see
//! `callscore-pipeline`'s `TranscriptionRequest`), so that any speech-to-text service can
//! transcribe it. This crate holds what callscore needs to measure one:
//!
//! * [`word_error_rate`]: the standard measure, (substitutions + deletions + insertions) /
//!   reference words, from a word-level edit distance over normalised text;
//! * with the `pocketsphinx` feature, [`pocketsphinx::PocketSphinx`]: CMU PocketSphinx with
//!   the US English model Debian ships, an offline reference recogniser. It is old and small;
//!   its figures are a floor that any production service should beat, not a goal.
//!
//! ```
//! use callscore_transcribe::word_error_rate;
//!
//! let wer = word_error_rate("The agent was very patient.", "the agent was patient today");
//! assert_eq!((wer.errors, wer.words), (2, 5));
//! ```

#![deny(missing_docs)]

#[cfg(feature = "pocketsphinx")]
pub mod pocketsphinx;

/// What a recogniser heard in a clip.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// The words, separated by single spaces.
    pub text: String,
    /// The recogniser's confidence in the whole text, 0-1, when it gives one.
    pub confidence: Option<f32>,
    /// Each word with its time in the clip.
    pub words: Vec<Word>,
}

/// One recognised word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The word.
    pub text: String,
    /// Its start in the clip, in ms.
    pub start_ms: u64,
    /// Its end in the clip, in ms.
    pub end_ms: u64,
}

/// Why a transcription failed.
#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    /// The recogniser could not start (a missing model, a bad setting).
    #[error("the recogniser cannot start: {0}")]
    Setup(String),
    /// The recogniser failed on the audio.
    #[error("the recogniser failed: {0}")]
    Failed(String),
}

/// Word errors against a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WordErrors {
    /// Substitutions, deletions and insertions.
    pub errors: usize,
    /// Words in the reference.
    pub words: usize,
}

impl WordErrors {
    /// The word error rate, 0 for a perfect transcript (it can exceed 1 with insertions).
    pub fn rate(&self) -> f64 {
        if self.words == 0 {
            return if self.errors == 0 { 0.0 } else { 1.0 };
        }
        self.errors as f64 / self.words as f64
    }
}

impl std::ops::AddAssign for WordErrors {
    fn add_assign(&mut self, other: WordErrors) {
        self.errors += other.errors;
        self.words += other.words;
    }
}

/// The word errors of `hypothesis` against `reference`, after both are normalised (lower
/// case, punctuation dropped, apostrophes kept inside words).
pub fn word_error_rate(reference: &str, hypothesis: &str) -> WordErrors {
    let reference = normalise(reference);
    let hypothesis = normalise(hypothesis);
    // the edit distance, one row at a time
    let mut previous: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, word) in reference.iter().enumerate() {
        let mut row = Vec::with_capacity(previous.len());
        row.push(i + 1);
        for (j, heard) in hypothesis.iter().enumerate() {
            let substitution = previous[j] + usize::from(word != heard);
            let deletion = previous[j + 1] + 1;
            let insertion = row[j] + 1;
            row.push(substitution.min(deletion).min(insertion));
        }
        previous = row;
    }
    WordErrors {
        errors: previous[hypothesis.len()],
        words: reference.len(),
    }
}

/// Lower-case words without punctuation; digits and inner apostrophes stay.
pub fn normalise(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == '-')
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric() || *c == '\'')
                .collect::<String>()
                .trim_matches('\'')
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_error_rate_counts_each_kind_of_error() {
        let same = word_error_rate("Hello, world!", "hello world");
        assert_eq!((same.errors, same.words), (0, 2));
        // one substitution, one deletion, one insertion
        let wer = word_error_rate("one two three four", "one too four five");
        assert_eq!((wer.errors, wer.words), (3, 4));
        assert!((wer.rate() - 0.75).abs() < 1e-9);
        assert_eq!(word_error_rate("", "").rate(), 0.0);
        assert_eq!(word_error_rate("", "noise").rate(), 1.0);
        assert_eq!(word_error_rate("a b", "").errors, 2);
    }

    #[test]
    fn normalising_keeps_words_and_inner_apostrophes() {
        assert_eq!(
            normalise("That's right -- the 'box' was DAMAGED."),
            ["that's", "right", "the", "box", "was", "damaged"]
        );
    }
}
