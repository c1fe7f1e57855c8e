//! Speed through the whole command: `callscore detect` on a one-hour 8 kHz mono 16-bit WAV
//! (reading and decoding included) next to spandsp's `dtmf_rx` fed by libsndfile, as a small C
//! program using both would run it. Both run as child processes, and the CPU time of each
//! (user and system, from `getrusage`) is measured over several rounds; the best samples per
//! CPU-second of each and the median ratio are printed, with the target of at least 4.
//!
//! ```sh
//! cargo build --release -p callscore && cargo run --release -p callscore-benches --bin cli-speed
//! ```
//!
//! `--write FILE` writes the hour of audio alone, for profiling the command on it.
//!
//! Needs espeak-ng and sox (the audio is an hour of the barge-in corpus's calls, the first
//! minute repeated), Debian's libspandsp-dev and libsndfile1 (opened at run time).

// libsndfile is opened at run time and called through its C API
#![allow(unsafe_code)]

use std::ffi::{CString, c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use callscore_audio::{Encoding, write_wav};
use callscore_benches::{Spandsp, speech_heavy};

const RATE: u32 = 8000;
const SECONDS: usize = 3600;
const ROUNDS: usize = 5;
/// Frames libsndfile reads at a time, as `dtmf_rx`'s own test tools do.
const CHUNK: usize = 160;

#[allow(clippy::print_stdout)]
fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, file] = args.as_slice()
        && flag == "--spandsp"
    {
        let digits = spandsp_through_libsndfile(Path::new(file))?;
        println!("{digits}");
        return Ok(());
    }
    if let [_, flag, file] = args.as_slice()
        && flag == "--write"
    {
        // the benchmark's audio alone, for profiling the command on it
        return write_hour(Path::new(file));
    }
    let callscore = std::env::var_os("CALLSCORE_BIN").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/callscore"),
        PathBuf::from,
    );
    if !callscore.is_file() {
        bail!(
            "{} is missing: run `cargo build --release -p callscore` first",
            callscore.display()
        );
    }
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("hour.wav");
    write_hour(&file)?;
    let samples = (SECONDS * RATE as usize) as f64;
    let this = std::env::current_exe()?;

    let (mut best_callscore, mut best_spandsp) = (0.0f64, 0.0f64);
    let mut ratios = Vec::new();
    let mut digits = (String::new(), String::new());
    for round in 0..ROUNDS {
        let (ours, c) = timed(Command::new(&callscore).arg("detect").arg(&file))?;
        let (theirs, s) = timed(Command::new(&this).arg("--spandsp").arg(&file))?;
        let (rate_c, rate_s) = (samples / c, samples / s);
        best_callscore = best_callscore.max(rate_c);
        best_spandsp = best_spandsp.max(rate_s);
        ratios.push(rate_c / rate_s);
        println!(
            "round {round}: callscore detect {c:.2} CPU-s, spandsp dtmf_rx + libsndfile {s:.2} CPU-s, ratio {:.2}",
            rate_c / rate_s
        );
        digits = (ours, theirs);
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    println!(
        "one hour of 8 kHz mono 16-bit WAV ({} and {} digits found): callscore detect {:.1} M samples per CPU-second, spandsp {:.1} M; median ratio {median:.2} (target: at least 4)",
        digits.0.trim().len(),
        digits.1.trim().len(),
        best_callscore / 1e6,
        best_spandsp / 1e6,
    );
    Ok(())
}

/// Writes the hour of audio: the first minute of the barge-in calls, repeated.
fn write_hour(file: &Path) -> anyhow::Result<()> {
    let minute = speech_heavy(60.0)?;
    let hour: Vec<f32> = minute
        .iter()
        .copied()
        .cycle()
        .take(SECONDS * RATE as usize)
        .collect();
    let mut out = std::io::BufWriter::new(std::fs::File::create(file)?);
    write_wav(&mut out, RATE, Encoding::Pcm { bits: 16 }, &[hour])?;
    Ok(())
}

/// Runs `command` and returns its standard output and the CPU seconds it used.
fn timed(command: &mut Command) -> anyhow::Result<(String, f64)> {
    let before = children_cpu_seconds();
    let output = command.output().context("running a child")?;
    let cpu = children_cpu_seconds() - before;
    if !output.status.success() {
        bail!(
            "{:?} failed: {}",
            command,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok((String::from_utf8_lossy(&output.stdout).into_owned(), cpu))
}

/// CPU time (user and system) of the children waited for so far.
fn children_cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_CHILDREN is valid on Linux.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage works on Linux");
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// libsndfile's `SF_INFO`.
#[repr(C)]
#[derive(Default)]
struct SfInfo {
    frames: i64,
    samplerate: c_int,
    channels: c_int,
    format: c_int,
    sections: c_int,
    seekable: c_int,
}

const SFM_READ: c_int = 0x10;

type SfOpen = unsafe extern "C" fn(*const c_char, c_int, *mut SfInfo) -> *mut c_void;
type SfReadfShort = unsafe extern "C" fn(*mut c_void, *mut i16, i64) -> i64;
type SfClose = unsafe extern "C" fn(*mut c_void) -> c_int;

/// Reads `file` with libsndfile, `CHUNK` frames at a time, into spandsp's receiver, and
/// returns the digits.
fn spandsp_through_libsndfile(file: &Path) -> anyhow::Result<String> {
    let library = CString::new("libsndfile.so.1")?;
    // SAFETY: dlopen with a valid C string; the handle is checked before use.
    let handle = unsafe { libc::dlopen(library.as_ptr(), libc::RTLD_NOW) };
    if handle.is_null() {
        bail!("libsndfile.so.1 is not installed (Debian: libsndfile1)");
    }
    let symbol = |name: &str| -> anyhow::Result<*mut c_void> {
        let name = CString::new(name)?;
        // SAFETY: dlsym on a live handle with a valid C string.
        let address = unsafe { libc::dlsym(handle, name.as_ptr()) };
        if address.is_null() {
            bail!("libsndfile lacks {name:?}");
        }
        Ok(address)
    };
    // SAFETY: the symbols are libsndfile's, with these C signatures.
    let (open, read, close) = unsafe {
        (
            std::mem::transmute::<*mut c_void, SfOpen>(symbol("sf_open")?),
            std::mem::transmute::<*mut c_void, SfReadfShort>(symbol("sf_readf_short")?),
            std::mem::transmute::<*mut c_void, SfClose>(symbol("sf_close")?),
        )
    };
    let path = CString::new(file.to_str().context("a UTF-8 path")?)?;
    let mut info = SfInfo::default();
    // SAFETY: a valid path and an SF_INFO we own.
    let sound = unsafe { open(path.as_ptr(), SFM_READ, &mut info) };
    if sound.is_null() {
        bail!("libsndfile cannot open {}", file.display());
    }
    let mut receiver = Spandsp.receiver();
    let mut buffer = vec![0i16; CHUNK * usize::try_from(info.channels.max(1))?];
    loop {
        // SAFETY: the buffer holds CHUNK frames of every channel.
        let frames = unsafe { read(sound, buffer.as_mut_ptr(), CHUNK as i64) };
        if frames <= 0 {
            break;
        }
        receiver.push(&buffer[..usize::try_from(frames)?]);
    }
    // SAFETY: the handle came from sf_open and is closed once.
    unsafe { close(sound) };
    Ok(receiver.digits())
}
