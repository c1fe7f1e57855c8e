//! Resampling to 8 kHz, checked with tone sweeps against a naive DFT: tones of the telephone
//! band keep their frequency and level, tones above 4 kHz do not fold back into the band.

use callscore_audio::{DecodeOptions, Encoding, Recording, write_wav};

/// Rates call recorders and media files use.
const RATES: [u32; 7] = [11_025, 16_000, 22_050, 32_000, 44_100, 48_000, 96_000];

fn tone(rate: u32, hz: f64, seconds: f64, amplitude: f64) -> Vec<f32> {
    let len = (f64::from(rate) * seconds) as usize;
    (0..len)
        .map(|n| {
            (amplitude * (std::f64::consts::TAU * hz * n as f64 / f64::from(rate)).sin()) as f32
        })
        .collect()
}

/// The file as 32-bit float WAV at `rate`, decoded to 8 kHz.
fn at_8k(rate: u32, channels: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let mut file = Vec::new();
    write_wav(&mut file, rate, Encoding::Float { bits: 32 }, channels).expect("writes");
    let mut recording = Recording::open_bytes(file, &DecodeOptions::default()).expect("opens");
    let mut out = vec![Vec::new(); channels.len()];
    while let Some(block) = recording.next_block().expect("decodes") {
        for (out, block) in out.iter_mut().zip(block) {
            out.extend_from_slice(block);
        }
    }
    out
}

/// Magnitude of the Hann-windowed DFT of `x` at `hz` (8 kHz), normalised so a unit sine
/// gives 1.
fn magnitude(x: &[f32], hz: f64) -> f64 {
    let n = x.len() as f64;
    let (mut re, mut im, mut gain) = (0.0, 0.0, 0.0);
    for (i, &s) in x.iter().enumerate() {
        let w = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n).cos();
        let phase = std::f64::consts::TAU * hz * i as f64 / 8000.0;
        re += w * f64::from(s) * phase.cos();
        im += w * f64::from(s) * phase.sin();
        gain += w;
    }
    2.0 * (re * re + im * im).sqrt() / gain
}

/// The frequency of the strongest component near `hz`, by golden-section search of the
/// windowed DFT's peak.
fn peak(x: &[f32], hz: f64) -> f64 {
    let (mut lo, mut hi) = (hz * 0.99, hz * 1.01);
    let golden = (5f64.sqrt() - 1.0) / 2.0;
    while hi - lo > 1e-4 {
        let a = hi - golden * (hi - lo);
        let b = lo + golden * (hi - lo);
        if magnitude(x, a) > magnitude(x, b) {
            hi = b;
        } else {
            lo = a;
        }
    }
    (lo + hi) / 2.0
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

#[test]
fn telephone_band_tones_keep_their_frequency_and_level() {
    let tones = [300.0, 697.0, 941.0, 1209.0, 1633.0, 2600.0, 3400.0];
    for rate in RATES {
        for hz in tones {
            let out = &at_8k(rate, &[tone(rate, hz, 0.5, 0.5)])[0];
            assert_eq!(out.len(), 4000, "{rate} Hz input gives 0.5 s at 8 kHz");
            // the first and last 20 ms hold the filter's edges
            let steady = &out[160..out.len() - 160];
            let found = peak(steady, hz);
            let error = (found - hz).abs() / hz;
            assert!(
                error < 0.001,
                "{hz} Hz from {rate} Hz came out at {found:.3} Hz"
            );
            let level = magnitude(steady, found);
            assert!(
                (level - 0.5).abs() < 0.5 * 0.02,
                "{hz} Hz from {rate} Hz: level {level}"
            );
        }
    }
}

#[test]
fn tones_above_4_khz_are_not_aliased_into_the_band() {
    for rate in RATES {
        let nyquist = f64::from(rate) / 2.0;
        let mut hz = 4400.0;
        while hz < nyquist - 200.0 {
            let out = &at_8k(rate, &[tone(rate, hz, 0.25, 0.5)])[0];
            let steady = &out[160..out.len() - 160];
            // relative to the tone itself, which a perfect filter removes entirely
            let down = 20.0 * (rms(steady) / (0.5 / 2f64.sqrt())).log10();
            assert!(down < -60.0, "{hz} Hz from {rate} Hz leaves {down:.1} dB");
            hz += if hz < 6000.0 { 200.0 } else { 1700.0 };
        }
    }
}

#[test]
fn events_keep_their_time_through_resampling() {
    // a burst from 0.300 s to 0.400 s must start and end there at 8 kHz too
    for rate in RATES {
        let mut signal = vec![0.0f32; rate as usize];
        let burst = tone(rate, 1000.0, 0.1, 0.5);
        let start = (0.3 * f64::from(rate)) as usize;
        signal[start..start + burst.len()].copy_from_slice(&burst);
        let out = &at_8k(rate, &[signal])[0];
        let loud: Vec<usize> = (0..out.len()).filter(|&i| out[i].abs() > 0.25).collect();
        let (first, last) = (loud[0], loud[loud.len() - 1]);
        assert!(
            first.abs_diff(2400) <= 8,
            "{rate} Hz: burst starts at {first}"
        );
        assert!(last.abs_diff(3200) <= 8, "{rate} Hz: burst ends at {last}");
    }
}

#[test]
fn channels_stay_apart_unless_mixed_down() {
    let rate = 16_000;
    let left = tone(rate, 697.0, 0.5, 0.5);
    let right = tone(rate, 1477.0, 0.5, 0.5);
    let out = at_8k(rate, &[left.clone(), right.clone()]);
    assert_eq!(out.len(), 2);
    assert!(magnitude(&out[0], 1477.0) < 1e-3);
    assert!(magnitude(&out[1], 697.0) < 1e-3);
    assert!(magnitude(&out[0], 697.0) > 0.45);

    let mut file = Vec::new();
    write_wav(
        &mut file,
        rate,
        Encoding::Float { bits: 32 },
        &[left, right],
    )
    .expect("writes");
    let options = DecodeOptions {
        mix_down: true,
        ..DecodeOptions::default()
    };
    let mut recording = Recording::open_bytes(file, &options).expect("opens");
    assert_eq!(recording.output_channels(), 1);
    let mut mixed = Vec::new();
    while let Some(block) = recording.next_block().expect("decodes") {
        assert_eq!(block.len(), 1);
        mixed.extend_from_slice(&block[0]);
    }
    assert!((magnitude(&mixed, 697.0) - 0.25).abs() < 0.01);
    assert!((magnitude(&mixed, 1477.0) - 0.25).abs() < 0.01);
}
