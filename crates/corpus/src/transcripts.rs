//! The reference transcriber's word error rate on generated English comments.
//!
//! Comments are one or two English sentences (the corpus's en-us and en-gb texts) spoken by
//! random espeak-ng voices, at -20 dBm0 active level, through G.711 µ-law as a telephone line
//! carries them: once over quiet line noise, once with pink noise 20 dB down. Nothing is
//! tuned on these figures, so there is no held-out split: they describe the reference
//! recogniser, the floor a production speech-to-text service should beat.

use callscore_synth::{Rng, g711, noise, set_active_level};
use callscore_transcribe::WordErrors;
use callscore_transcribe::pocketsphinx::PocketSphinx;

use crate::seeded;
use crate::speech::{Speaker, SpeechError, trim};
use crate::texts::LANGUAGES;

/// This corpus's stream of the seed.
const TAG: u64 = 24;
/// Active level of the comments.
const LEVEL_DBM0: f64 = -20.0;
/// Level of the quiet line's noise.
const LINE_NOISE_DBM0: f64 = -60.0;
/// Signal-to-noise ratio of the noisy condition.
const NOISY_SNR_DB: f64 = 20.0;

/// Word errors per condition.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Over quiet line noise.
    pub clean: WordErrors,
    /// With pink noise 20 dB down.
    pub noisy: WordErrors,
    /// Comments transcribed per condition.
    pub comments: usize,
    /// A few comments: what was said and what was heard on the quiet line.
    pub examples: Vec<(String, String)>,
}

/// Transcribes `comments` generated comments from `seed` with `recogniser`.
pub fn evaluate(
    recogniser: &mut PocketSphinx,
    comments: usize,
    seed: u64,
) -> Result<Report, anyhow::Error> {
    let english: Vec<_> = LANGUAGES
        .iter()
        .filter(|l| l.voice.starts_with("en"))
        .copied()
        .collect();
    let mut report = Report::default();
    for index in 0..comments {
        let mut rng = seeded(seed, TAG, index as u64);
        let language = *rng.pick(&english);
        let speaker = Speaker {
            language,
            speed: rng.below(140, 190) as u32,
            ..Speaker::random(&mut rng)
        };
        let text = (0..rng.below(1, 3))
            .map(|_| *rng.pick(language.sentences))
            .collect::<Vec<_>>()
            .join(" ");
        let speech = spoken(&speaker, &text)?;
        for (noisy, errors) in [(false, &mut report.clean), (true, &mut report.noisy)] {
            let line = line(&speech, noisy, &mut rng);
            let heard = recogniser.transcribe(&line)?;
            *errors += callscore_transcribe::word_error_rate(&text, &heard.text);
            if !noisy && index < 3 {
                report.examples.push((text.clone(), heard.text));
            }
        }
        report.comments += 1;
    }
    Ok(report)
}

fn spoken(speaker: &Speaker, text: &str) -> Result<Vec<f32>, SpeechError> {
    let mut speech = trim(&speaker.speak(text)?).to_vec();
    set_active_level(&mut speech, 8000, LEVEL_DBM0);
    Ok(speech)
}

/// The comment as the line carries it: half a second of line before and after, noise, µ-law.
fn line(speech: &[f32], noisy: bool, rng: &mut Rng) -> Vec<f32> {
    let mut line = vec![0.0f32; speech.len() + 8000];
    line[4000..4000 + speech.len()].copy_from_slice(speech);
    noise::white(&mut line, LINE_NOISE_DBM0, rng);
    if noisy {
        noise::pink(&mut line, LEVEL_DBM0 - NOISY_SNR_DB, rng);
    }
    g711::channel(&mut line, g711::Law::Ulaw);
    line
}
