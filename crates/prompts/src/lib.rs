//! Known IVR prompts found in a recording's channel and subtracted from it.
//!
//! An IVR knows the prompts it plays. When the caller is recorded on the same channel as the
//! prompts (a mono recording), a key keyed while a prompt is still talking is heard through the
//! prompt's speech, and that is what makes a DTMF detector lose it. [`cancel`] finds every
//! occurrence of each known [`Prompt`] in a channel and takes it out, leaving the caller's keys
//! and voice:
//!
//! 1. **Where.** The normalised cross-correlation of the channel with the prompt (computed with
//!    FFTs, block by block) gives candidate positions, best first.
//! 2. **How.** At a candidate, a short linear filter ([`TAPS`] taps) from the prompt file to the
//!    channel is fitted by least squares: it takes up the gain, a fraction of a sample of
//!    delay and the line's colouring. It is fitted twice, the second time without the frames the
//!    first fit left loud (the caller keying or talking over the prompt), so that they do not
//!    bias it.
//! 3. **Whether.** A candidate counts only if subtracting the fitted prompt takes out at least
//!    [`MIN_CANCELLATION_DB`] of the channel's power in at least [`MIN_CANCELLED_SHARE`] of the
//!    frames where the prompt sounds. By chance a filter of [`TAPS`] taps fitted over thousands
//!    of samples takes out a small fraction of a decibel, so a channel without the prompt is
//!    left exactly as it was.
//!
//! The codec the recording went through (G.711, say) is noise to the fit; a codec that does not
//! keep the waveform (GSM) leaves more of the prompt behind.
//!
//! ```
//! use callscore_prompts::{Prompt, RATE, cancel};
//!
//! // a prompt: a sweep standing in for speech
//! let prompt: Vec<f32> = (0..8000)
//!     .map(|n| {
//!         let t = n as f32 / RATE as f32;
//!         0.1 * (2.0 * std::f32::consts::PI * (300.0 + 400.0 * t) * t).sin()
//!     })
//!     .collect();
//! let mut channel = vec![0.0f32; 24_000];
//! for (n, s) in prompt.iter().enumerate() {
//!     channel[5_000 + n] += 0.5 * s;
//! }
//! let found = cancel(&mut channel, &[Prompt::new(prompt).unwrap()]);
//! assert_eq!(found.len(), 1);
//! assert_eq!(found[0].start, 5_000);
//! // what is left of it is more than 30 dB down
//! assert!(found[0].cancelled_db > 30.0);
//! ```

#![deny(missing_docs)]

use callscore_dtmf::FULL_SCALE_SINE_DBM0;
use realfft::RealFftPlanner;

/// The sample rate of prompts and channels (callscore decodes every recording to it).
pub const RATE: u32 = 8_000;

/// A shorter prompt is refused: too little of it to be told from chance.
pub const MIN_PROMPT_SECONDS: f64 = 0.25;

/// A longer prompt is refused: it bounds the work and memory per prompt (hold music is not a
/// prompt).
pub const MAX_PROMPT_SECONDS: f64 = 120.0;

/// Taps of the filter from the prompt file to the channel: 4 ms, room for a line's colouring.
pub const TAPS: usize = 32;

/// Taps of the filter before the position the correlation found, for a prompt heard a
/// fraction of a sample early or through a filter that is not minimum-phase.
const LEAD: usize = 8;

/// A frame where the prompt sounds counts as cancelled when subtracting the prompt takes out at
/// least this much of the channel's power there, in dB.
pub const MIN_CANCELLATION_DB: f64 = 6.0;

/// Least share of the frames where the prompt sounds that must be cancelled for the prompt to
/// count as there. Not a half: a caller who talks or keys over most of a prompt must not hide
/// it (set on the tuning seeds, where a half left 7 prompts of 300 calls in place).
pub const MIN_CANCELLED_SHARE: f64 = 0.25;

/// Least level of the fitted prompt where it sounds (its mean power over those frames), in
/// dBm0: a prompt quieter than line noise masks no key, and a fit to digital silence is not a
/// prompt.
pub const MIN_PROMPT_LEVEL_DBM0: f64 = -60.0;

/// Candidates below this normalised correlation are not tried.
const MIN_CORRELATION: f64 = 0.1;

/// Candidates tried per prompt, at most: bounds the work on a channel that resembles the
/// prompt everywhere (hold music with the same tune, say).
const MAX_CANDIDATES: usize = 64;

/// Frames of the fit, in samples (20 ms).
const FRAME: usize = 160;

/// Frames where the fitted prompt is within this of its loudest frame are where it sounds.
const ACTIVE_RANGE_DB: f64 = 30.0;

/// Frames whose residual after the first fit is this many times the median residual are left
/// out of the second fit: something else sounds there.
const OUTLIER_RATIO: f64 = 4.0;

/// Diagonal loading of the fit, relative to the prompt's mean power per tap (30 dB down).
const LOADING: f64 = 1e-3;

/// A prompt that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromptError {
    /// Too short or too long.
    #[error(
        "the prompt is {seconds:.2} s long; a prompt must be {MIN_PROMPT_SECONDS}-{MAX_PROMPT_SECONDS} s"
    )]
    Length {
        /// Its length.
        seconds: f64,
    },
    /// No sound in it.
    #[error("the prompt is silent")]
    Silent,
}

/// A known prompt: the audio the IVR plays, at [`RATE`], full scale 1.0.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    samples: Vec<f32>,
    energy: f64,
    /// `autocorrelation[lag]` for lags below [`TAPS`]: the normal equations of an unclipped fit.
    autocorrelation: Vec<f64>,
}

impl Prompt {
    /// A prompt from its samples at [`RATE`].
    pub fn new(samples: Vec<f32>) -> Result<Prompt, PromptError> {
        let seconds = samples.len() as f64 / f64::from(RATE);
        if !(MIN_PROMPT_SECONDS..=MAX_PROMPT_SECONDS).contains(&seconds) {
            return Err(PromptError::Length { seconds });
        }
        let energy: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
        if !energy.is_finite() || energy <= f64::from(f32::MIN_POSITIVE) {
            return Err(PromptError::Silent);
        }
        let autocorrelation = (0..TAPS)
            .map(|lag| {
                samples
                    .iter()
                    .zip(&samples[lag.min(samples.len())..])
                    .map(|(&a, &b)| f64::from(a) * f64::from(b))
                    .sum()
            })
            .collect();
        Ok(Prompt {
            samples,
            energy,
            autocorrelation,
        })
    }

    /// Its samples.
    pub fn samples(&self) -> &[f32] {
        &self.samples
    }

    /// Its length in seconds.
    pub fn duration_seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(RATE)
    }
}

/// One occurrence of a prompt found in a channel and subtracted from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Which prompt, as an index into the prompts given.
    pub prompt: usize,
    /// The channel's sample at which the prompt's first sample sounds; negative when the
    /// recording starts during the prompt.
    pub start: i64,
    /// The normalised correlation at that position (1 for the prompt alone).
    pub correlation: f64,
    /// The prompt's gain into the channel, in dB.
    pub gain_db: f64,
    /// How much of the channel's power subtracting it took out, in the median frame where it
    /// sounds, in dB.
    pub cancelled_db: f64,
}

impl Found {
    /// Its start in seconds from the start of the channel.
    pub fn start_seconds(&self) -> f64 {
        self.start as f64 / f64::from(RATE)
    }
}

/// Finds every occurrence of each prompt in `channel` (at [`RATE`], full scale 1.0) and
/// subtracts it, in place. Prompts are looked for in the order given, each in what the ones
/// before it left. Returns what was found, in the order of the channel.
pub fn cancel(channel: &mut [f32], prompts: &[Prompt]) -> Vec<Found> {
    let mut found = Vec::new();
    let mut planner = RealFftPlanner::<f32>::new();
    for (index, prompt) in prompts.iter().enumerate() {
        let len = prompt.samples.len() as i64;
        let mut taken: Vec<i64> = Vec::new();
        for (start, correlation) in candidates(channel, prompt, &mut planner) {
            if taken.iter().any(|&t| (t - start).abs() < len) {
                continue;
            }
            let Some(fit) = Fit::at(channel, prompt, start) else {
                continue;
            };
            if fit.cancelled_share < MIN_CANCELLED_SHARE || fit.level_dbm0 < MIN_PROMPT_LEVEL_DBM0 {
                continue;
            }
            fit.subtract(channel, prompt);
            taken.push(start);
            found.push(Found {
                prompt: index,
                start,
                correlation,
                gain_db: fit.gain_db,
                cancelled_db: fit.cancelled_db,
            });
        }
    }
    found.sort_by_key(|f| f.start);
    found
}

/// Positions where `prompt` may start in `channel`, each the best within a prompt's length of
/// those before it, best first.
fn candidates(
    channel: &[f32],
    prompt: &Prompt,
    planner: &mut RealFftPlanner<f32>,
) -> Vec<(i64, f64)> {
    let len = prompt.samples.len();
    // the channel is searched with half a prompt of silence either side, so that a prompt cut
    // by the start or the end of the recording is still found
    let pad = len / 2;
    let padded_len = channel.len() + 2 * pad;
    if padded_len < len {
        return Vec::new();
    }
    let at = |i: usize| -> f32 {
        i.checked_sub(pad)
            .and_then(|i| channel.get(i))
            .copied()
            .unwrap_or(0.0)
    };
    let energy = |i: usize| f64::from(at(i)) * f64::from(at(i));
    let size = (4 * len).next_power_of_two().max(1 << 14);
    let step = size - len + 1;
    let forward = planner.plan_fft_forward(size);
    let inverse = planner.plan_fft_inverse(size);
    let mut buffer = forward.make_input_vec();
    buffer[..len].copy_from_slice(&prompt.samples);
    let mut reference = forward.make_output_vec();
    if forward.process(&mut buffer, &mut reference).is_err() {
        return Vec::new();
    }
    let mut spectrum = forward.make_output_vec();
    let positions = padded_len - len + 1;
    let mut best: Vec<(i64, f64)> = Vec::new();
    let mut block = 0;
    while block < positions {
        for (k, value) in buffer.iter_mut().enumerate() {
            *value = at(block + k);
        }
        if forward.process(&mut buffer, &mut spectrum).is_err() {
            return Vec::new();
        }
        for (x, p) in spectrum.iter_mut().zip(&reference) {
            *x *= p.conj();
        }
        // the inverse of a real signal's spectrum: the imaginary parts at 0 and at the
        // Nyquist frequency are zero up to rounding
        if let Some(first) = spectrum.first_mut() {
            first.im = 0.0;
        }
        if let Some(last) = spectrum.last_mut() {
            last.im = 0.0;
        }
        if inverse.process(&mut spectrum, &mut buffer).is_err() {
            return Vec::new();
        }
        // the energy of the window at each position, summed afresh at each block and slid
        // within it: no array the length of the channel
        let mut window: f64 = (block..block + len).map(energy).sum();
        for (offset, &value) in buffer.iter().enumerate().take(step) {
            let position = block + offset;
            if position >= positions {
                break;
            }
            if offset > 0 {
                window += energy(position + len - 1) - energy(position - 1);
            }
            if window <= 1e-12 * prompt.energy {
                continue;
            }
            let correlation = f64::from(value) / size as f64 / (prompt.energy * window).sqrt();
            // NaN from a hostile channel is no candidate either
            if correlation.is_nan() || correlation < MIN_CORRELATION {
                continue;
            }
            let start = position as i64 - pad as i64;
            match best.last_mut() {
                Some(last) if start - last.0 < len as i64 => {
                    if correlation > last.1 {
                        *last = (start, correlation);
                    }
                }
                _ => best.push((start, correlation)),
            }
        }
        block += step;
    }
    best.sort_by(|a, b| b.1.total_cmp(&a.1));
    best.truncate(MAX_CANDIDATES);
    best
}

/// A prompt's filter into the channel at one position, fitted by least squares.
#[derive(Debug, Clone)]
struct Fit {
    start: i64,
    /// `taps[k]` weighs the prompt's sample `n - start + LEAD - k` at channel sample `n`.
    taps: [f64; TAPS],
    gain_db: f64,
    cancelled_db: f64,
    /// Mean power of the fitted prompt over the frames where it sounds, in dBm0.
    level_dbm0: f64,
    /// Share of the frames where it sounds in which subtracting it takes out at least
    /// [`MIN_CANCELLATION_DB`].
    cancelled_share: f64,
}

impl Fit {
    /// Fits the prompt starting at `start` of `channel`, twice; `None` where it does not reach
    /// the channel or cannot be solved.
    fn at(channel: &[f32], prompt: &Prompt, start: i64) -> Option<Fit> {
        let span = Span::new(channel.len(), prompt.samples.len(), start)?;
        let frames = span.len().div_ceil(FRAME);
        let mut excluded = vec![false; frames];
        let first = Fit::solve(channel, prompt, &span, &excluded)?;
        let measure = first.measure(channel, prompt, &span);
        let typical = median(
            measure
                .iter()
                .filter(|m| m.active)
                .map(|m| m.residual)
                .collect(),
        )?;
        for (excluded, m) in excluded.iter_mut().zip(&measure) {
            *excluded = m.residual > OUTLIER_RATIO * typical;
        }
        let mut fit = Fit::solve(channel, prompt, &span, &excluded)?;
        let measure = fit.measure(channel, prompt, &span);
        let active: Vec<&Measure> = measure.iter().filter(|m| m.active).collect();
        let power = active.iter().map(|m| m.fitted).sum::<f64>()
            / (active.iter().map(|m| m.samples).sum::<usize>().max(1)) as f64;
        fit.level_dbm0 = 10.0 * (power.max(1e-30) / 0.5).log10() + FULL_SCALE_SINE_DBM0;
        let cancelled: Vec<f64> = active
            .iter()
            .map(|m| 10.0 * ((m.channel + 1e-20) / (m.residual + 1e-20)).log10())
            .collect();
        fit.cancelled_share = cancelled
            .iter()
            .filter(|&&c| c >= MIN_CANCELLATION_DB)
            .count() as f64
            / cancelled.len().max(1) as f64;
        fit.cancelled_db = median(cancelled)?;
        let fitted: f64 = measure.iter().map(|m| m.fitted).sum();
        fit.gain_db = 10.0 * (fitted / prompt.energy).max(1e-20).log10();
        Some(fit)
    }

    /// Solves the normal equations over the span's frames not excluded.
    fn solve(channel: &[f32], prompt: &Prompt, span: &Span, excluded: &[bool]) -> Option<Fit> {
        // the matrix of an unclipped fit over every sample is the prompt's autocorrelation;
        // samples outside the channel and excluded frames are taken back out of it
        let mut matrix = [[0.0f64; TAPS]; TAPS];
        for (j, row) in matrix.iter_mut().enumerate() {
            for (k, value) in row.iter_mut().enumerate() {
                *value = prompt.autocorrelation[j.abs_diff(k)];
            }
        }
        let mut vector = [0.0f64; TAPS];
        let remove = |matrix: &mut [[f64; TAPS]; TAPS], n: i64| {
            let u = span.reference(prompt, n);
            for j in 0..TAPS {
                if u[j] != 0.0 {
                    for k in 0..TAPS {
                        matrix[j][k] -= u[j] * u[k];
                    }
                }
            }
        };
        for n in span.full_first..span.first {
            remove(&mut matrix, n);
        }
        for n in span.last..span.full_last {
            remove(&mut matrix, n);
        }
        for n in span.first..span.last {
            let frame = ((n - span.first) as usize) / FRAME;
            if excluded[frame] {
                remove(&mut matrix, n);
                continue;
            }
            let u = span.reference(prompt, n);
            let x = f64::from(channel[n as usize]);
            for (v, &u) in vector.iter_mut().zip(&u) {
                *v += u * x;
            }
        }
        let taps = solve(matrix, vector)?;
        Some(Fit {
            start: span.start,
            taps,
            gain_db: 0.0,
            cancelled_db: 0.0,
            level_dbm0: f64::NEG_INFINITY,
            cancelled_share: 0.0,
        })
    }

    /// The fitted prompt at channel sample `n`.
    fn value(&self, prompt: &Prompt, span: &Span, n: i64) -> f64 {
        let u = span.reference(prompt, n);
        self.taps.iter().zip(&u).map(|(h, u)| h * u).sum()
    }

    /// Per frame of the span: the channel's power, the residual's and the fitted prompt's.
    fn measure(&self, channel: &[f32], prompt: &Prompt, span: &Span) -> Vec<Measure> {
        let mut measure = vec![Measure::default(); span.len().div_ceil(FRAME)];
        for n in span.first..span.last {
            let m = &mut measure[((n - span.first) as usize) / FRAME];
            let x = f64::from(channel[n as usize]);
            let y = self.value(prompt, span, n);
            m.channel += x * x;
            m.residual += (x - y) * (x - y);
            m.fitted += y * y;
            m.samples += 1;
        }
        let loudest = measure.iter().map(|m| m.fitted).fold(0.0, f64::max);
        let floor = loudest * 10f64.powf(-ACTIVE_RANGE_DB / 10.0);
        for m in &mut measure {
            m.active = loudest > 0.0 && m.fitted >= floor;
        }
        measure
    }

    /// Subtracts the fitted prompt from the channel.
    fn subtract(&self, channel: &mut [f32], prompt: &Prompt) {
        let Some(span) = Span::new(channel.len(), prompt.samples.len(), self.start) else {
            return;
        };
        for n in span.first..span.last {
            let y = self.value(prompt, &span, n);
            channel[n as usize] -= y as f32;
        }
    }
}

/// The channel samples a prompt at `start` reaches through the filter.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: i64,
    /// Every sample the filter reaches, inside the channel or not.
    full_first: i64,
    full_last: i64,
    /// Those inside the channel.
    first: i64,
    last: i64,
}

impl Span {
    fn new(channel: usize, prompt: usize, start: i64) -> Option<Span> {
        let full_first = start - LEAD as i64;
        let full_last = full_first + (prompt + TAPS - 1) as i64;
        let first = full_first.max(0);
        let last = full_last.min(channel as i64);
        (first < last).then_some(Span {
            start,
            full_first,
            full_last,
            first,
            last,
        })
    }

    fn len(&self) -> usize {
        (self.last - self.first) as usize
    }

    /// The prompt's samples the filter weighs at channel sample `n`.
    fn reference(&self, prompt: &Prompt, n: i64) -> [f64; TAPS] {
        let mut u = [0.0f64; TAPS];
        let base = n - self.start + LEAD as i64;
        for (k, u) in u.iter_mut().enumerate() {
            let i = base - k as i64;
            if let Some(&s) = usize::try_from(i).ok().and_then(|i| prompt.samples.get(i)) {
                *u = f64::from(s);
            }
        }
        u
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Measure {
    channel: f64,
    residual: f64,
    fitted: f64,
    samples: usize,
    active: bool,
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[values.len() / 2])
}

/// Solves `matrix · x = vector` for a symmetric positive semi-definite matrix by Cholesky, with
/// diagonal loading ([`LOADING`]): the filter may not amplify a band in which the prompt has
/// next to no power (its hum, or below the telephone band) to fit something else there.
fn solve(mut a: [[f64; TAPS]; TAPS], b: [f64; TAPS]) -> Option<[f64; TAPS]> {
    let trace: f64 = (0..TAPS).map(|i| a[i][i]).sum();
    if !(trace.is_finite() && trace > 0.0) {
        return None;
    }
    let loading = LOADING * trace / TAPS as f64;
    for (i, row) in a.iter_mut().enumerate() {
        row[i] += loading;
    }
    // a = l · lᵀ, l stored in the lower triangle of a
    for j in 0..TAPS {
        let d = a[j][j] - a[j][..j].iter().map(|v| v * v).sum::<f64>();
        if d <= 0.0 {
            return None;
        }
        let d = d.sqrt();
        a[j][j] = d;
        for i in j + 1..TAPS {
            let s = a[i][j]
                - a[i][..j]
                    .iter()
                    .zip(&a[j][..j])
                    .map(|(x, y)| x * y)
                    .sum::<f64>();
            a[i][j] = s / d;
        }
    }
    let mut y = [0.0f64; TAPS];
    for i in 0..TAPS {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i][k] * y[k];
        }
        y[i] = s / a[i][i];
    }
    let mut x = [0.0f64; TAPS];
    for i in (0..TAPS).rev() {
        let mut s = y[i];
        for k in i + 1..TAPS {
            s -= a[k][i] * x[k];
        }
        x[i] = s / a[i][i];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests;
