//! The picture of one channel: a time ruler, the waveform, a spectrogram of the telephone band
//! (0-4 kHz) with every key and rejected candidate marked at its tones, a lane of key labels
//! and a lane of question windows and prompts, written as PNG.

use realfft::RealFftPlanner;

/// Pixels per second of audio, up to [`MAX_WIDTH`].
const PIXELS_PER_SECOND: f64 = 100.0;
/// Narrowest and widest picture.
const MIN_WIDTH: usize = 400;
const MAX_WIDTH: usize = 4000;
/// Heights of the bands, top to bottom.
const RULER: usize = 12;
const WAVE: usize = 100;
const SPECTRUM: usize = 256;
const KEY_LANE: usize = 22;
const SURVEY_LANE: usize = 22;
const GAP: usize = 2;
/// FFT length of the spectrogram at 8 kHz: 32 ms, 31 Hz a bin.
const FFT: usize = 256;
/// Levels the spectrogram's colours span, in dB relative to full scale.
const FLOOR_DB: f32 = -100.0;
const TOP_DB: f32 = -10.0;
/// Highest frequency shown.
const NYQUIST_HZ: f32 = 4000.0;

const BACKGROUND: [u8; 3] = [250, 250, 250];
const INK: [u8; 3] = [30, 30, 30];
const WAVE_INK: [u8; 3] = [40, 90, 160];
const KEY: [u8; 3] = [20, 170, 60];
const REJECTED: [u8; 3] = [215, 40, 40];
const QUESTION: [u8; 3] = [60, 110, 200];
const PROMPT: [u8; 3] = [150, 150, 150];

/// A mark on the picture: a span of time, an optional pair of frequencies and a label.
#[derive(Debug, Clone)]
pub(crate) struct Mark {
    pub(crate) start: f64,
    pub(crate) end: f64,
    pub(crate) tones: Option<(f32, f32)>,
    pub(crate) label: String,
    pub(crate) kind: MarkKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MarkKind {
    Key,
    Rejected,
    Question,
    Prompt,
}

/// An RGB picture.
pub(crate) struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<[u8; 3]>,
}

impl Canvas {
    fn new(width: usize, height: usize) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![BACKGROUND; width * height],
        }
    }

    fn set(&mut self, x: usize, y: usize, colour: [u8; 3]) {
        if x < self.width && y < self.height {
            self.pixels[y * self.width + x] = colour;
        }
    }

    fn fill(&mut self, x0: usize, y0: usize, x1: usize, y1: usize, colour: [u8; 3]) {
        for y in y0..y1.min(self.height) {
            for x in x0..x1.min(self.width) {
                self.pixels[y * self.width + x] = colour;
            }
        }
    }

    fn outline(&mut self, x0: usize, y0: usize, x1: usize, y1: usize, colour: [u8; 3]) {
        for x in x0..=x1 {
            self.set(x, y0, colour);
            self.set(x, y1, colour);
        }
        for y in y0..=y1 {
            self.set(x0, y, colour);
            self.set(x1, y, colour);
        }
    }

    /// Writes `text` with its top left corner at (x, y), in a 5×7 font, one pixel apart.
    fn text(&mut self, x: usize, y: usize, text: &str, colour: [u8; 3]) {
        for (i, c) in text.chars().enumerate() {
            let rows = glyph(c);
            for (dy, row) in rows.iter().enumerate() {
                for dx in 0..5 {
                    if row & (0b10000 >> dx) != 0 {
                        self.set(x + 6 * i + dx, y + dy, colour);
                    }
                }
            }
        }
    }

    /// The picture as PNG.
    pub(crate) fn png(&self) -> Result<Vec<u8>, png::EncodingError> {
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut bytes, self.width as u32, self.height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        let data: Vec<u8> = self.pixels.iter().flatten().copied().collect();
        writer.write_image_data(&data)?;
        writer.finish()?;
        Ok(bytes)
    }
}

/// Draws one channel (8 kHz, full scale 1.0) with its marks.
pub(crate) fn draw(samples: &[f32], rate: u32, marks: &[Mark]) -> Canvas {
    let seconds = samples.len() as f64 / f64::from(rate);
    let width = ((seconds * PIXELS_PER_SECOND).ceil() as usize).clamp(MIN_WIDTH, MAX_WIDTH);
    let height = RULER + WAVE + SPECTRUM + KEY_LANE + SURVEY_LANE + 4 * GAP;
    let mut canvas = Canvas::new(width, height);
    let per_pixel = (samples.len() as f64 / width as f64).max(1.0);
    let x_of = |t: f64| -> usize {
        ((t * f64::from(rate) / per_pixel).round().max(0.0) as usize).min(width - 1)
    };

    // the ruler: a tick a second, labelled every second or every tenth
    let every = if seconds > 60.0 { 10 } else { 1 };
    for s in (0..=seconds.floor() as usize).step_by(every) {
        let x = x_of(s as f64);
        canvas.fill(x, RULER - 3, x + 1, RULER, INK);
        canvas.text(x + 2, 1, &s.to_string(), INK);
    }

    // the waveform: the range of the samples under each column
    let wave_top = RULER + GAP;
    let middle = wave_top + WAVE / 2;
    canvas.fill(0, middle, width, middle + 1, [200, 200, 200]);
    for x in 0..width {
        let from = (x as f64 * per_pixel) as usize;
        let to = (((x + 1) as f64 * per_pixel) as usize).min(samples.len());
        let Some(column) = samples.get(from..to.max(from)) else {
            continue;
        };
        let (low, high) = column
            .iter()
            .fold((0.0f32, 0.0f32), |(l, h), &s| (l.min(s), h.max(s)));
        let y = |v: f32| (middle as f32 - v.clamp(-1.0, 1.0) * (WAVE / 2 - 1) as f32) as usize;
        canvas.fill(x, y(high), x + 1, y(low) + 1, WAVE_INK);
    }

    // the spectrogram: one FFT per column, centred on it
    let spectrum_top = wave_top + WAVE + GAP;
    let mut planner = RealFftPlanner::<f32>::new();
    let fft = planner.plan_fft_forward(FFT);
    let mut input = fft.make_input_vec();
    let mut output = fft.make_output_vec();
    let window: Vec<f32> = (0..FFT)
        .map(|n| 0.5 - 0.5 * (std::f32::consts::TAU * n as f32 / FFT as f32).cos())
        .collect();
    // a full-scale sine through the window: the reference of 0 dB
    let reference = (FFT as f32 * 0.25).powi(2);
    for x in 0..width {
        let centre = ((x as f64 + 0.5) * per_pixel) as i64;
        for (n, value) in input.iter_mut().enumerate() {
            let i = centre - (FFT / 2) as i64 + n as i64;
            let s = usize::try_from(i)
                .ok()
                .and_then(|i| samples.get(i))
                .copied()
                .unwrap_or(0.0);
            *value = s * window[n];
        }
        if fft.process(&mut input, &mut output).is_err() {
            continue;
        }
        for row in 0..SPECTRUM {
            // row 0 is the top: 4 kHz
            let bin = ((SPECTRUM - 1 - row) * (FFT / 2)) / SPECTRUM;
            let power = output[bin].norm_sqr() / reference;
            let db = 10.0 * power.max(1e-20).log10();
            canvas.set(
                x,
                spectrum_top + row,
                heat((db - FLOOR_DB) / (TOP_DB - FLOOR_DB)),
            );
        }
    }
    let y_of_hz = |hz: f32| -> usize {
        spectrum_top + ((1.0 - hz / NYQUIST_HZ).clamp(0.0, 1.0) * (SPECTRUM - 1) as f32) as usize
    };

    let key_top = spectrum_top + SPECTRUM + GAP;
    let survey_top = key_top + KEY_LANE + GAP;
    for mark in marks {
        let (x0, x1) = (x_of(mark.start), x_of(mark.end).max(x_of(mark.start) + 1));
        match mark.kind {
            MarkKind::Key | MarkKind::Rejected => {
                let colour = if mark.kind == MarkKind::Key {
                    KEY
                } else {
                    REJECTED
                };
                if let Some((low, high)) = mark.tones {
                    for hz in [low, high] {
                        let y = y_of_hz(hz);
                        canvas.outline(
                            x0.saturating_sub(1),
                            y.saturating_sub(3),
                            x1 + 1,
                            y + 3,
                            colour,
                        );
                    }
                }
                // keys on the upper half of the lane, rejected candidates on the lower
                let y = if mark.kind == MarkKind::Key {
                    key_top
                } else {
                    key_top + KEY_LANE / 2
                };
                // wide enough for its label however short the key
                let wide = x0 + 6 * mark.label.chars().count() + 1;
                canvas.fill(x0, y, x1.max(wide), y + KEY_LANE / 2 - 1, colour);
                canvas.text(x0 + 1, y + 2, &mark.label, [255, 255, 255]);
            }
            MarkKind::Question | MarkKind::Prompt => {
                let (colour, y) = if mark.kind == MarkKind::Question {
                    (QUESTION, survey_top)
                } else {
                    (PROMPT, survey_top + SURVEY_LANE / 2)
                };
                canvas.fill(x0, y, x1, y + SURVEY_LANE / 2 - 1, colour);
                canvas.fill(x0, y, x0 + 1, y + SURVEY_LANE / 2 - 1, INK);
                canvas.text(x0 + 2, y + 2, &mark.label, [255, 255, 255]);
            }
        }
    }
    canvas
}

/// A colour for `level` from 0 (the floor) to 1 (the top): black, purple, orange, yellow.
fn heat(level: f32) -> [u8; 3] {
    const STOPS: [[f32; 3]; 4] = [
        [0.0, 0.0, 0.0],
        [110.0, 20.0, 120.0],
        [240.0, 110.0, 30.0],
        [255.0, 250.0, 160.0],
    ];
    let t = level.clamp(0.0, 1.0) * (STOPS.len() - 1) as f32;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let f = t - i as f32;
    let mix = |k: usize| (STOPS[i][k] + (STOPS[i + 1][k] - STOPS[i][k]) * f) as u8;
    [mix(0), mix(1), mix(2)]
}

/// The two-letter code of a rejected candidate's verdict in the picture (the JSON names it).
pub(crate) fn verdict_code(verdict: &str) -> &'static str {
    match verdict {
        "too_short" => "TS",
        "level" => "LV",
        "twist" => "TW",
        "frequency" => "FQ",
        "purity" => "PU",
        "tone_share" => "SH",
        "talk_off" => "TO",
        "disabled" => "DI",
        _ => "?",
    }
}

/// Rows of a 5×7 glyph, the high bit on the left; unknown characters are a small box.
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e],
        '1' => [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
        '2' => [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f],
        '3' => [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
        '4' => [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02],
        '5' => [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
        '6' => [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e],
        '7' => [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e],
        '9' => [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
        '*' => [0x00, 0x04, 0x15, 0x0e, 0x15, 0x04, 0x00],
        '#' => [0x0a, 0x0a, 0x1f, 0x0a, 0x1f, 0x0a, 0x0a],
        'A' => [0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
        'B' => [0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e],
        'C' => [0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e],
        'D' => [0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c],
        'F' => [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10],
        'H' => [0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
        'I' => [0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f],
        'N' => [0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x11],
        'O' => [0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e],
        'P' => [0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10],
        'Q' => [0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d],
        'S' => [0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e],
        'T' => [0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a],
        ':' => [0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00],
        '=' => [0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00],
        '-' => [0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00],
        '?' => [0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04],
        ' ' => [0; 7],
        _ => [0x1f, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1f],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fallback glyph: a character the font lacks.
    const BOX: [u8; 7] = [0x1f, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1f];

    #[test]
    fn every_verdict_has_its_own_code_and_every_label_character_a_glyph() {
        let verdicts = [
            "too_short",
            "level",
            "twist",
            "frequency",
            "purity",
            "tone_share",
            "talk_off",
            "disabled",
        ];
        let codes: std::collections::BTreeSet<&str> =
            verdicts.iter().map(|v| verdict_code(v)).collect();
        assert_eq!(codes.len(), verdicts.len(), "{codes:?}");
        assert!(!codes.contains("?"));
        let labels = codes
            .iter()
            .copied()
            .chain(["0123456789*#ABCD", "Q1=9", "Q2=-", "P", ":"]);
        for label in labels {
            for c in label.chars() {
                assert_ne!(glyph(c), BOX, "{c:?} has no glyph");
            }
        }
    }
}
