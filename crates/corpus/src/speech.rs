//! Synthetic speech from espeak-ng, resampled to 8 kHz and limited to the telephone band by
//! sox (both from Debian's packages).

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use callscore_synth::Rng;

use crate::texts::{LANGUAGES, Language};

/// Voice variants of espeak-ng, male, female and synthetic ones.
const VARIANTS: &[&str] = &[
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "f1",
    "f2",
    "f3",
    "f4",
    "f5",
    "klatt",
    "klatt2",
    "klatt3",
    "croak",
    "whisper",
    "Andy",
    "Annie",
    "aunty",
    "boris",
    "david",
    "edward",
    "grandma",
    "grandpa",
    "linda",
    "max",
    "michel",
    "norbert",
    "pablo",
    "announcer",
];

/// Why speech could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SpeechError {
    /// espeak-ng or sox could not be started or failed.
    #[error("{tool} failed: {detail} (install espeak-ng and sox: apt-get install espeak-ng sox)")]
    Tool {
        /// The program.
        tool: &'static str,
        /// What happened.
        detail: String,
    },
}

/// One synthetic speaker.
#[derive(Debug, Clone)]
pub struct Speaker {
    /// The language spoken.
    pub language: Language,
    /// espeak-ng voice variant.
    pub variant: &'static str,
    /// Words per minute.
    pub speed: u32,
    /// Base pitch, 0-99.
    pub pitch: u32,
}

impl Speaker {
    /// A random speaker of a random language.
    pub fn random(rng: &mut Rng) -> Speaker {
        Speaker {
            language: *rng.pick(LANGUAGES),
            variant: Clone::clone(rng.pick(VARIANTS)),
            speed: rng.below(120, 230) as u32,
            pitch: rng.below(10, 90) as u32,
        }
    }

    /// A short description, such as `nl+f2 160wpm p40`.
    pub fn describe(&self) -> String {
        format!(
            "{}+{} {}wpm p{}",
            self.language.voice, self.variant, self.speed, self.pitch
        )
    }

    /// A random utterance of two to four sentences in the speaker's language.
    pub fn utterance(&self, rng: &mut Rng) -> String {
        let n = rng.below(1, 4);
        (0..n)
            .map(|_| *rng.pick(self.language.sentences))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Speaks `text`: 8 kHz samples, band-limited to 250-3500 Hz, as loud as espeak-ng made
    /// them.
    pub fn speak(&self, text: &str) -> Result<Vec<f32>, SpeechError> {
        let voice = format!("{}+{}", self.language.voice, self.variant);
        let mut espeak = Command::new("espeak-ng");
        espeak
            .args(["-v", &voice, "-s", &self.speed.to_string()])
            .args(["-p", &self.pitch.to_string()])
            .arg("--stdout");
        let mut sox = Command::new("sox");
        sox.args(["-q", "-t", "wav", "-"])
            .args(RAW_F32)
            .args(["-", "sinc", "250-3500"]);
        piped(
            ("espeak-ng", espeak),
            ("sox", sox),
            text.as_bytes().to_vec(),
            &format!("voice {voice}"),
        )
    }
}

/// How an IVR stores a prompt file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptFile {
    /// 16-bit linear PCM.
    Pcm16,
    /// G.711 A-law.
    Alaw,
    /// GSM 6.10.
    Gsm,
    /// MP3 at 32 kbit/s.
    Mp3,
}

impl PromptFile {
    /// Every kind.
    pub const ALL: [PromptFile; 4] = [
        PromptFile::Pcm16,
        PromptFile::Alaw,
        PromptFile::Gsm,
        PromptFile::Mp3,
    ];

    /// What a description calls it.
    pub fn name(self) -> &'static str {
        match self {
            PromptFile::Pcm16 => "16-bit",
            PromptFile::Alaw => "A-law",
            PromptFile::Gsm => "GSM 6.10",
            PromptFile::Mp3 => "MP3 32 kbit/s",
        }
    }
}

/// sox's arguments for 8 kHz mono 32-bit float samples.
const RAW_F32: [&str; 10] = [
    "-t",
    "raw",
    "-e",
    "floating-point",
    "-b",
    "32",
    "-c",
    "1",
    "-r",
    "8000",
];

/// `samples` (8 kHz) as a prompt file of that kind holds them: written and read back, by sox
/// for GSM 6.10 and MP3 (whose decoder's delay is trimmed with the leading silence).
pub fn stored_as(samples: &[f32], file: PromptFile) -> Result<Vec<f32>, SpeechError> {
    let coded: &[&str] = match file {
        PromptFile::Pcm16 => {
            return Ok(callscore_synth::to_i16(samples)
                .into_iter()
                .map(|x| f32::from(x) / 32767.0)
                .collect());
        }
        PromptFile::Alaw => {
            let mut out = samples.to_vec();
            callscore_synth::g711::channel(&mut out, callscore_synth::g711::Law::Alaw);
            return Ok(out);
        }
        PromptFile::Gsm => &["-t", "gsm"],
        PromptFile::Mp3 => &["-t", "mp3", "-C", "32"],
    };
    // `-R`: sox dithers down to 16 bits with a random seed unless told to repeat itself
    let mut encoder = Command::new("sox");
    encoder
        .args(["-q", "-R"])
        .args(RAW_F32)
        .arg("-")
        .args(coded)
        .arg("-");
    let mut decoder = Command::new("sox");
    decoder
        .args(["-q", "-R"])
        .args(&coded[..2])
        .arg("-")
        .args(RAW_F32)
        .arg("-");
    let bytes = samples.iter().flat_map(|x| x.to_le_bytes()).collect();
    let decoded = piped(
        ("sox", encoder),
        ("sox", decoder),
        bytes,
        &format!("storing a prompt as {}", file.name()),
    )?;
    Ok(trim(&decoded).to_vec())
}

/// Runs `first` into `second`, feeds `input` to the first, and reads the second's output as
/// 32-bit float samples; `context` goes into a failure's message.
fn piped(
    (first_tool, mut first): (&'static str, Command),
    (second_tool, mut second): (&'static str, Command),
    input: Vec<u8>,
    context: &str,
) -> Result<Vec<f32>, SpeechError> {
    let mut first = first
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| tool_error(first_tool, e))?;
    let between = first.stdout.take().expect("stdout was piped");
    let mut second = second
        .stdin(between)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| tool_error(second_tool, e))?;
    // feed the input from another thread: the pipes could fill up while it is written
    let mut stdin = first.stdin.take().expect("stdin was piped");
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let mut raw = Vec::new();
    second
        .stdout
        .take()
        .expect("stdout was piped")
        .read_to_end(&mut raw)
        .map_err(|e| tool_error(second_tool, e))?;
    writer
        .join()
        .map_err(|_| SpeechError::Tool {
            tool: first_tool,
            detail: "the input writer panicked".into(),
        })?
        .map_err(|e| tool_error(first_tool, e))?;
    for (tool, child) in [(first_tool, &mut first), (second_tool, &mut second)] {
        let status = child.wait().map_err(|e| tool_error(tool, e))?;
        if !status.success() {
            return Err(SpeechError::Tool {
                tool,
                detail: format!("exit status {status}, {context}"),
            });
        }
    }
    Ok(raw
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

fn tool_error(tool: &'static str, e: std::io::Error) -> SpeechError {
    SpeechError::Tool {
        tool,
        detail: e.to_string(),
    }
}

/// Trims leading and trailing near-silence (below -60 dBFS).
pub fn trim(samples: &[f32]) -> &[f32] {
    let loud = |x: &f32| x.abs() > 1e-3;
    let start = samples.iter().position(loud).unwrap_or(samples.len());
    let end = samples.iter().rposition(loud).map_or(start, |i| i + 1);
    &samples[start..end]
}
