use callscore_dtmf::{Detector, DetectorConfig};
use callscore_synth::{Digit, Rng, add_digit};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let key = args[1].chars().next().unwrap();
    let len_ms: f64 = args[2].parse().unwrap();
    let lo: f64 = args[3].parse().unwrap();
    let hi: f64 = args[4].parse().unwrap();
    let mut rng = Rng::new(args.get(5).map_or(1, |s| s.parse().unwrap()));
    for trial in 0..8 {
        let start = 480 + rng.below(0, 40);
        let d = Digit { start, ..Digit::new(key, 0, (len_ms * 8.0) as usize).levels(lo, hi).random_phases(&mut rng) };
        let mut s = vec![0.0f32; start + d.len + 800];
        add_digit(&mut s, 8000, &d);
        let mut det = Detector::new(&DetectorConfig::default()).unwrap();
        let mut ev = Vec::new();
        det.push(&s, &mut ev);
        det.finish(&mut ev);
        println!("trial {trial} start {start}: {:?}", det.stats());
        for e in &ev { println!("   {:?} {}..{} (truth {}..{}) lo {:.1}Hz {:.2}dB hi {:.1}Hz {:.2}dB q {:.3}", e.key, e.start, e.end, start, start + d.len, e.low_hz, e.low_dbm0, e.high_hz, e.high_dbm0, e.quality); }
    }
}
#[allow(dead_code)]
fn unused() {}
