//! CMU PocketSphinx (5prealpha, as Debian 12 ships it) through its C API, with the US English
//! acoustic model, dictionary and language model of `pocketsphinx-en-us`.
// The FFI below is callscore's only unsafe code outside the benchmarks: calls into the C API.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::path::{Path, PathBuf};

use crate::{TranscribeError, Transcript, Word};

/// Where Debian installs the US English model.
pub const DEBIAN_MODEL_DIR: &str = "/usr/share/pocketsphinx/model/en-us";
/// The model's sample rate. Telephone audio (8 kHz) is interpolated to it: the band above
/// 4 kHz stays empty, one reason a telephone clip scores worse than wideband speech.
const MODEL_RATE: usize = 16_000;
/// PocketSphinx's frame rate: 100 frames a second.
const FRAME_MS: u64 = 10;
/// Taps of the half-band interpolation filter (odd, windowed sinc).
const TAPS: usize = 31;

#[link(name = "pocketsphinx")]
unsafe extern "C" {
    fn ps_args() -> *const c_void;
    fn ps_init(config: *mut c_void) -> *mut c_void;
    fn ps_free(ps: *mut c_void) -> c_int;
    fn ps_start_utt(ps: *mut c_void) -> c_int;
    fn ps_process_raw(
        ps: *mut c_void,
        data: *const i16,
        n_samples: usize,
        no_search: c_int,
        full_utt: c_int,
    ) -> c_int;
    fn ps_end_utt(ps: *mut c_void) -> c_int;
    fn ps_get_hyp(ps: *mut c_void, out_best_score: *mut i32) -> *const c_char;
    fn ps_get_prob(ps: *mut c_void) -> i32;
    fn ps_get_logmath(ps: *mut c_void) -> *mut c_void;
    fn ps_seg_iter(ps: *mut c_void) -> *mut c_void;
    fn ps_seg_next(seg: *mut c_void) -> *mut c_void;
    fn ps_seg_word(seg: *mut c_void) -> *const c_char;
    fn ps_seg_frames(seg: *mut c_void, out_sf: *mut c_int, out_ef: *mut c_int);
}

#[link(name = "sphinxbase")]
unsafe extern "C" {
    fn cmd_ln_init(inout: *mut c_void, defn: *const c_void, strict: i32, ...) -> *mut c_void;
    fn cmd_ln_free_r(config: *mut c_void) -> c_int;
    fn logmath_exp(logmath: *mut c_void, p: i32) -> f64;
}

/// A PocketSphinx decoder with a model loaded. Not shared between threads: make one per
/// worker.
pub struct PocketSphinx {
    decoder: *mut c_void,
    config: *mut c_void,
    model: PathBuf,
}

impl std::fmt::Debug for PocketSphinx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PocketSphinx")
            .field("model", &self.model)
            .finish()
    }
}

impl PocketSphinx {
    /// Loads the model in `dir` (acoustic model `en-us/`, `en-us.lm.bin`,
    /// `cmudict-en-us.dict`; Debian's is [`DEBIAN_MODEL_DIR`]).
    pub fn new(dir: &Path) -> Result<PocketSphinx, TranscribeError> {
        let path = |name: &str| -> Result<CString, TranscribeError> {
            let file = dir.join(name);
            if !file.exists() {
                return Err(TranscribeError::Setup(format!(
                    "{} is missing",
                    file.display()
                )));
            }
            CString::new(file.to_string_lossy().as_bytes())
                .map_err(|_| TranscribeError::Setup("a model path holds a NUL byte".into()))
        };
        let (hmm, lm, dict) = (
            path("en-us")?,
            path("en-us.lm.bin")?,
            path("cmudict-en-us.dict")?,
        );
        let arg = |s: &str| CString::new(s).expect("no NUL in a literal");
        let (k_hmm, k_lm, k_dict, k_log, v_log) = (
            arg("-hmm"),
            arg("-lm"),
            arg("-dict"),
            arg("-logfn"),
            arg("/dev/null"),
        );
        // SAFETY: cmd_ln_init reads NUL-terminated strings that outlive the call, ending with
        // a null pointer, as its documentation requires.
        let config = unsafe {
            cmd_ln_init(
                std::ptr::null_mut(),
                ps_args(),
                1,
                k_hmm.as_ptr(),
                hmm.as_ptr(),
                k_lm.as_ptr(),
                lm.as_ptr(),
                k_dict.as_ptr(),
                dict.as_ptr(),
                k_log.as_ptr(),
                v_log.as_ptr(),
                std::ptr::null::<c_char>(),
            )
        };
        if config.is_null() {
            return Err(TranscribeError::Setup(
                "the configuration was refused".into(),
            ));
        }
        // SAFETY: config is a valid configuration; the decoder keeps its own reference.
        let decoder = unsafe { ps_init(config) };
        if decoder.is_null() {
            // SAFETY: config came from cmd_ln_init and is freed once.
            unsafe { cmd_ln_free_r(config) };
            return Err(TranscribeError::Setup(format!(
                "the model in {} did not load",
                dir.display()
            )));
        }
        Ok(PocketSphinx {
            decoder,
            config,
            model: dir.to_path_buf(),
        })
    }

    /// The engine's name for transcript events.
    pub fn engine(&self) -> String {
        "pocketsphinx 5prealpha en-us".into()
    }

    /// Transcribes a clip of 8 kHz samples (full scale 1.0).
    pub fn transcribe(&mut self, samples: &[f32]) -> Result<Transcript, TranscribeError> {
        let audio = interpolate(samples);
        let failed = |what: &str| TranscribeError::Failed(what.to_string());
        // SAFETY: the decoder is valid for self's life; the buffer outlives the calls.
        unsafe {
            if ps_start_utt(self.decoder) < 0 {
                return Err(failed("cannot start an utterance"));
            }
            if ps_process_raw(self.decoder, audio.as_ptr(), audio.len(), 0, 1) < 0 {
                return Err(failed("cannot process the audio"));
            }
            if ps_end_utt(self.decoder) < 0 {
                return Err(failed("cannot end the utterance"));
            }
        }
        let words = self.words();
        let text = words
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        // SAFETY: as above; the hypothesis string is owned by the decoder.
        let confidence = unsafe {
            let mut score = 0;
            let hyp = ps_get_hyp(self.decoder, &mut score);
            if hyp.is_null() {
                None
            } else {
                let p = logmath_exp(ps_get_logmath(self.decoder), ps_get_prob(self.decoder));
                (p.is_finite() && (0.0..=1.0).contains(&p)).then_some(p as f32)
            }
        };
        Ok(Transcript {
            text,
            confidence,
            words,
        })
    }

    /// The words of the last utterance, fillers and silences left out, alternative
    /// pronunciations (`word(2)`) named by their word.
    fn words(&self) -> Vec<Word> {
        let mut words = Vec::new();
        // SAFETY: the iterator belongs to the decoder and is advanced until it ends (which
        // frees it); each word string is read before the next step.
        unsafe {
            let mut seg = ps_seg_iter(self.decoder);
            while !seg.is_null() {
                let word = CStr::from_ptr(ps_seg_word(seg))
                    .to_string_lossy()
                    .into_owned();
                let (mut start, mut end) = (0, 0);
                ps_seg_frames(seg, &mut start, &mut end);
                let word = word.split('(').next().unwrap_or_default().to_string();
                let filler = word.starts_with('<') || word.starts_with('[') || word.is_empty();
                if !filler {
                    words.push(Word {
                        text: word,
                        start_ms: u64::try_from(start).unwrap_or(0) * FRAME_MS,
                        end_ms: (u64::try_from(end).unwrap_or(0) + 1) * FRAME_MS,
                    });
                }
                seg = ps_seg_next(seg);
            }
        }
        words
    }
}

impl Drop for PocketSphinx {
    fn drop(&mut self) {
        // SAFETY: both came from their constructors and are freed once, decoder first.
        unsafe {
            ps_free(self.decoder);
            cmd_ln_free_r(self.config);
        }
    }
}

/// 8 kHz to the model's 16 kHz, 16-bit: zeros between the samples, then a windowed-sinc
/// half-band low-pass, so that no image of the telephone band appears above 4 kHz.
fn interpolate(samples: &[f32]) -> Vec<i16> {
    let half = TAPS / 2;
    let taps: Vec<f32> = (0..TAPS)
        .map(|n| {
            let x = n as f32 - half as f32;
            let sinc = if x == 0.0 {
                1.0
            } else {
                (std::f32::consts::PI * x / 2.0).sin() / (std::f32::consts::PI * x / 2.0)
            };
            let hann =
                0.5 - 0.5 * (2.0 * std::f32::consts::PI * n as f32 / (TAPS - 1) as f32).cos();
            sinc * hann
        })
        .collect();
    let stuffed: Vec<f32> = samples.iter().flat_map(|&s| [s, 0.0]).collect();
    debug_assert_eq!(MODEL_RATE, 2 * 8000);
    (0..stuffed.len())
        .map(|i| {
            let mut acc = 0.0;
            for (k, tap) in taps.iter().enumerate() {
                if let Some(x) = (i + k).checked_sub(half).and_then(|j| stuffed.get(j)) {
                    acc += x * tap;
                }
            }
            (acc * 32767.0).clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_keeps_a_telephone_tone_and_its_level() {
        let tone: Vec<f32> = (0..8000)
            .map(|n| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * n as f32 / 8000.0).sin())
            .collect();
        let out = interpolate(&tone);
        assert_eq!(out.len(), 16_000);
        let rms = |x: &[f32]| (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
        let up: Vec<f32> = out[1000..15_000]
            .iter()
            .map(|&s| f32::from(s) / 32767.0)
            .collect();
        assert!((rms(&up) / rms(&tone) - 1.0).abs() < 0.05, "{}", rms(&up));
    }

    #[test]
    fn a_missing_model_is_a_setup_error() {
        let error = PocketSphinx::new(Path::new("/nonexistent")).expect_err("no model");
        assert!(matches!(error, TranscribeError::Setup(_)), "{error}");
    }
}
