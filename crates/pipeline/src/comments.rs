//! Spoken comments: the caller's speech in each comment window, heard and clipped.
//!
//! Only a survey with a comment question costs anything here. Its windows are known once the
//! keys are (a terminator closes a comment), so the caller's channel is decoded a second time
//! and only the windows, with a little audio before each for the noise floor, are kept: memory
//! follows the comments, not the recording. Key tones the detector found are muted first: a
//! key is never speech.

use std::sync::Arc;
use std::time::Duration;

use callscore_audio::{DecodeOptions, EncodedClip, OUTPUT_RATE, Recording, encode_clip};
use callscore_survey::{Answers, CommentWindow, Spoken, Survey};
use callscore_vad::{Settings as VadSettings, find_speech};
use sha2::{Digest, Sha256};

use crate::failure::{Failure, Reason, Stage};
use crate::keys::Heard;

/// Audio kept on either side of the speech in a clip, so that its first and last sounds are
/// whole (inside the window: before it, a mono recording holds the prompt).
pub const CLIP_MARGIN: Duration = Duration::from_millis(250);
/// Audio before a window handed to the voice-activity detector for its noise floor.
const NOISE_CONTEXT: Duration = Duration::from_secs(10);
/// Key tones are muted this far beyond the detector's start and end: its times are accurate
/// to a block (about 13 ms), and a tone's ramp is not speech either.
const KEY_GUARD: Duration = Duration::from_millis(30);

/// A comment's clip, encoded, with where it lies in the recording.
#[derive(Debug, Clone)]
pub struct Clip {
    /// The comment question's position in the survey.
    pub index: usize,
    /// The comment question's id.
    pub question_id: String,
    /// The encoded audio.
    pub encoded: EncodedClip,
    /// SHA-256 of the encoded bytes, lowercase hex.
    pub sha256: String,
    /// Where it starts in the recording.
    pub start: Duration,
    /// Where it ends.
    pub end: Duration,
}

/// Listens to every comment window of `answers` on `channel` of the recording, records what
/// was heard (a comment with enough speech becomes `answered`) and returns the clips of the
/// answered ones. `without_prompts` is the channel already decoded with the survey's known
/// prompts subtracted, when it names any: a prompt is then no speech, and nothing is decoded
/// again.
pub(crate) fn hear_comments(
    survey: &Survey,
    answers: &mut Answers,
    audio: &Arc<[u8]>,
    options: &DecodeOptions,
    (channel, without_prompts): (u16, Option<&[f32]>),
    keys: &[Heard],
) -> Result<Vec<Clip>, Failure> {
    let windows = answers.comment_windows();
    if windows.is_empty() {
        return Ok(Vec::new());
    }
    let spans: Vec<(usize, usize)> = windows
        .iter()
        .map(|(_, w)| (sample(w.start.saturating_sub(NOISE_CONTEXT)), sample(w.end)))
        .collect();
    let mut audio_of = match without_prompts {
        Some(samples) => spans
            .iter()
            .map(|&(from, to)| samples[from.min(samples.len())..to.min(samples.len())].to_vec())
            .collect(),
        None => decode_spans(audio, options, channel, &spans)?,
    };
    let mut clips = Vec::new();
    for ((index, window), ((from, _), samples)) in
        windows.into_iter().zip(spans.iter().zip(&mut audio_of))
    {
        mute_keys(samples, *from, keys);
        let opens = sample(window.start)
            .saturating_sub(*from)
            .min(samples.len());
        let (context, heard) = samples.split_at(opens);
        let spoken = listen(&window, heard, context);
        answers
            .hear(survey, index, spoken)
            .map_err(|e| Failure::permanent(Stage::Score, Reason::InvalidScore, e.to_string()))?;
        let answered = answers.questions[index].status == callscore_survey::Status::Answered;
        if let Some(spoken) = spoken.filter(|_| answered) {
            let start = spoken.start.saturating_sub(CLIP_MARGIN).max(window.start);
            let end = (spoken.end + CLIP_MARGIN).min(window.end);
            let part = &heard[sample(start - window.start).min(heard.len())
                ..sample(end - window.start).min(heard.len())];
            let encoded = encode_clip(part);
            clips.push(Clip {
                index,
                question_id: answers.questions[index].question_id.clone(),
                sha256: crate::hex(&Sha256::digest(&encoded.bytes)),
                encoded,
                start,
                end,
            });
        }
    }
    Ok(clips)
}

/// The speech in one window, timed from the start of the recording.
fn listen(window: &CommentWindow, heard: &[f32], context: &[f32]) -> Option<Spoken> {
    let speech = find_speech(heard, context, &VadSettings::default());
    let at = |ms: u32| window.start + Duration::from_millis(u64::from(ms));
    Some(Spoken {
        start: at(speech.start_ms()?),
        end: at(speech.end_ms()?).min(window.end),
        speech: Duration::from_millis(u64::from(speech.speech_ms())),
        ratio: speech.ratio(),
        level_dbm0: speech.level_dbm0,
    })
}

/// The samples of `channel` in each span `[from, to)`, decoding the recording once more.
fn decode_spans(
    audio: &Arc<[u8]>,
    options: &DecodeOptions,
    channel: u16,
    spans: &[(usize, usize)],
) -> Result<Vec<Vec<f32>>, Failure> {
    let failed = crate::process::decode_failure;
    let mut recording = Recording::open_bytes(Arc::clone(audio), options).map_err(failed)?;
    let last = spans.iter().map(|&(_, to)| to).max().unwrap_or(0);
    let mut out: Vec<Vec<f32>> = spans
        .iter()
        .map(|&(f, t)| Vec::with_capacity(t - f))
        .collect();
    let mut at = 0;
    while at < last {
        let Some(block) = recording.next_block().map_err(failed)? else {
            break;
        };
        let samples = &block[usize::from(channel)];
        let end = at + samples.len();
        for (&(from, to), kept) in spans.iter().zip(&mut out) {
            let (a, b) = (from.max(at), to.min(end));
            if a < b {
                kept.extend_from_slice(&samples[a - at..b - at]);
            }
        }
        at = end;
    }
    Ok(out)
}

/// Silences every key tone in `samples`, which start at sample `from` of the recording.
fn mute_keys(samples: &mut [f32], from: usize, keys: &[Heard]) {
    let guard = sample(KEY_GUARD);
    for heard in keys {
        let start = usize::try_from(heard.event.start).unwrap_or(usize::MAX);
        let end = usize::try_from(heard.event.end).unwrap_or(usize::MAX);
        let a = start
            .saturating_sub(guard)
            .saturating_sub(from)
            .min(samples.len());
        let b = end
            .saturating_add(guard)
            .saturating_sub(from)
            .min(samples.len());
        samples[a..b.max(a)].fill(0.0);
    }
}

/// The 8 kHz sample at `time`.
fn sample(time: Duration) -> usize {
    usize::try_from(time.as_millis() * u128::from(OUTPUT_RATE) / 1000).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use callscore_audio::{Encoding, write_wav};
    use callscore_survey::{KeyInput, QuestionOffset, Status, extract};
    use callscore_synth::{Digit, Rng, add_digit, music, noise, set_level, voice};

    const SURVEY: &str = r#"
        id = "s"
        version = 1
        [[questions]]
        id = "why"
        kind = "comment"
        comment = { listen_after = "3.2s", max_duration = "20s" }
    "#;

    /// A mono call: a music prompt for 3 s, then `talk` (if any) from 4 s, a key `5` at 9 s,
    /// over line noise; 12 s long.
    fn call(talk: bool) -> (Vec<u8>, Vec<Heard>, usize) {
        let mut rng = Rng::new(11);
        let mut line = vec![0.0f32; 12 * 8000];
        let mut prompt = music::generate(3.0, &mut rng);
        set_level(&mut prompt, -18.0);
        line[..prompt.len()].copy_from_slice(&prompt);
        let mut spoken = 0;
        if talk {
            let speech = voice::talk(voice::Voice { pitch_hz: 110.0 }, 3.0, -22.0, &mut rng);
            spoken = speech.len();
            callscore_synth::mix(&mut line, 4 * 8000, &speech, 1.0);
        }
        add_digit(
            &mut line,
            8000,
            &Digit::new('5', 9 * 8000, 800).levels(-8.0, -8.0),
        );
        noise::white(&mut line, -55.0, &mut rng);
        let mut bytes = Vec::new();
        write_wav(&mut bytes, 8000, Encoding::Pcm { bits: 16 }, &[line]).expect("wav");
        let mut recording =
            Recording::open_bytes(Arc::from(bytes.clone()), &DecodeOptions::default())
                .expect("opens");
        let keys = crate::keys::detect_keys(&mut recording, None, false, &[])
            .expect("detects")
            .keys;
        (bytes, keys, spoken)
    }

    /// The answers of a 12 s call whose comment question starts at 0, before listening.
    fn window_at_zero(survey: &Survey) -> Answers {
        let input = KeyInput {
            duration: Duration::from_secs(12),
            question_offsets: vec![QuestionOffset {
                question_id: "why".into(),
                offset: Duration::ZERO,
            }],
            ..KeyInput::default()
        };
        extract(survey, &input).expect("answers")
    }

    fn hear(talk: bool) -> (Answers, Vec<Clip>, usize) {
        let survey = Survey::from_toml(SURVEY).expect("survey");
        let (bytes, keys, spoken) = call(talk);
        assert_eq!(keys.len(), 1, "the key is found");
        let mut answers = window_at_zero(&survey);
        let clips = hear_comments(
            &survey,
            &mut answers,
            &Arc::from(bytes),
            &DecodeOptions::default(),
            (0, None),
            &keys,
        )
        .expect("heard");
        (answers, clips, spoken)
    }

    #[test]
    fn speech_after_the_prompt_answers_the_comment_and_is_clipped() {
        let (answers, clips, spoken) = hear(true);
        let answer = &answers.questions[0];
        assert_eq!(answer.status, Status::Answered);
        let heard = answer
            .comment
            .as_ref()
            .and_then(|c| c.spoken)
            .expect("speech");
        let truth_end = Duration::from_millis(4000 + spoken as u64 / 8);
        let near = |a: Duration, b: Duration| a.abs_diff(b) <= Duration::from_millis(100);
        assert!(near(heard.start, Duration::from_secs(4)), "{heard:?}");
        assert!(
            near(heard.end, truth_end),
            "{heard:?} against {truth_end:?}"
        );
        assert_eq!(clips.len(), 1);
        assert_eq!(clips[0].start, heard.start - CLIP_MARGIN);
        assert_eq!(clips[0].end, heard.end + CLIP_MARGIN);
        let decoded = Recording::open_bytes(
            Arc::from(clips[0].encoded.bytes.clone()),
            &DecodeOptions {
                extension: Some(clips[0].encoded.extension.into()),
                ..DecodeOptions::default()
            },
        )
        .expect("the clip decodes")
        .info()
        .clone();
        assert_eq!(decoded.channels, 1);
    }

    #[test]
    fn a_prompt_a_key_and_line_noise_are_no_comment() {
        let (answers, clips, _) = hear(false);
        assert_eq!(answers.questions[0].status, Status::NoInput);
        assert!(clips.is_empty());
    }

    /// A mono call whose comment window opens with the IVR's spoken prompt (0-3 s) and, with
    /// `talk`, the caller speaking from 4 s; heard with the prompt known or not.
    fn hear_spoken_prompt(talk: bool, known: bool) -> Answers {
        let survey = Survey::from_toml(&SURVEY.replace("3.2s", "0s")).expect("survey");
        let mut rng = Rng::new(12);
        let prompt = voice::talk(voice::Voice { pitch_hz: 190.0 }, 3.0, -16.0, &mut rng);
        let mut line = vec![0.0f32; 12 * 8000];
        callscore_synth::mix(&mut line, 0, &prompt, 0.7);
        if talk {
            let speech = voice::talk(voice::Voice { pitch_hz: 110.0 }, 3.0, -22.0, &mut rng);
            callscore_synth::mix(&mut line, 4 * 8000, &speech, 1.0);
        }
        noise::white(&mut line, -55.0, &mut rng);
        callscore_synth::g711::channel(&mut line, callscore_synth::g711::Law::Ulaw);
        let mut bytes = Vec::new();
        write_wav(&mut bytes, 8000, Encoding::Ulaw, &[line]).expect("wav");
        let prompts = if known {
            vec![callscore_prompts::Prompt::new(prompt).expect("a prompt")]
        } else {
            Vec::new()
        };
        let mut recording =
            Recording::open_bytes(Arc::from(bytes.clone()), &DecodeOptions::default())
                .expect("opens");
        let detected =
            crate::keys::detect_keys(&mut recording, None, false, &prompts).expect("detects");
        assert_eq!(detected.prompts.len(), usize::from(known));
        let mut answers = window_at_zero(&survey);
        let without = detected.without_prompts.first().map(|(_, s)| s.as_slice());
        hear_comments(
            &survey,
            &mut answers,
            &Arc::from(bytes),
            &DecodeOptions::default(),
            (0, without),
            &detected.keys,
        )
        .expect("heard");
        answers
    }

    #[test]
    fn a_known_prompt_in_the_window_is_no_comment_and_the_caller_after_it_is() {
        // unknown, the prompt is taken for the caller
        let unknown = hear_spoken_prompt(false, false);
        assert_eq!(unknown.questions[0].status, Status::Answered);
        // known, it is subtracted: nobody spoke
        let silent = hear_spoken_prompt(false, true);
        assert_eq!(silent.questions[0].status, Status::NoInput);
        // and the caller who speaks after it is heard from where they start
        let spoken = hear_spoken_prompt(true, true);
        let heard = spoken.questions[0]
            .comment
            .as_ref()
            .and_then(|c| c.spoken)
            .expect("speech");
        assert_eq!(spoken.questions[0].status, Status::Answered);
        assert!(
            heard.start.abs_diff(Duration::from_secs(4)) <= Duration::from_millis(100),
            "{heard:?}"
        );
    }
}
