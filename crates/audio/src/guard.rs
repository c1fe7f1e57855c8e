//! Checks on header fields that symphonia trusts before it allocates: a 4-byte length in a
//! FLAC or Ogg comment header makes it allocate that many bytes before it finds the stream is
//! shorter (found by fuzzing). callscore reads those headers first and refuses lengths that
//! overrun the block or packet holding them.

use crate::DecodeError;

/// Most header bytes read ahead to check them; metadata beyond this is refused.
pub(crate) const MAX_CHECKED_HEADER: usize = 16 << 20;

/// What a container's leading headers need before they can be checked.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The headers are consistent, or this is not a format with such headers.
    Fine,
    /// The check needs at least this many leading bytes.
    NeedBytes(usize),
}

/// Checks the metadata blocks of a FLAC stream (`head` starts with `fLaC`).
pub(crate) fn flac(head: &[u8]) -> Result<Verdict, DecodeError> {
    let mut at = 4;
    loop {
        let Some(header) = head.get(at..at + 4) else {
            return Ok(Verdict::NeedBytes(at + 4));
        };
        let last = header[0] & 0x80 != 0;
        let kind = header[0] & 0x7F;
        let len =
            usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
        let end = at + 4 + len;
        if end > MAX_CHECKED_HEADER {
            return Err(DecodeError::TooLarge(format!(
                "FLAC metadata over {} MiB",
                MAX_CHECKED_HEADER >> 20
            )));
        }
        let Some(body) = head.get(at + 4..end) else {
            return Ok(Verdict::NeedBytes(end));
        };
        match kind {
            4 => vorbis_comment(body, "FLAC")?,
            6 => flac_picture(body)?,
            _ => {}
        }
        if last {
            return Ok(Verdict::Fine);
        }
        at = end;
    }
}

/// Checks the comment header of the first logical stream of an Ogg file (`head` starts with
/// `OggS`): Vorbis and Opus keep their tags in the second packet.
pub(crate) fn ogg(head: &[u8]) -> Result<Verdict, DecodeError> {
    let mut packets: Vec<Vec<u8>> = vec![Vec::new()];
    let mut at = 0;
    let mut serial = None;
    while packets.len() < 3 {
        let Some(page) = head.get(at..at + 27) else {
            return Ok(Verdict::NeedBytes(at + 27));
        };
        if &page[..4] != b"OggS" {
            // not for this check to judge; symphonia reports a broken page itself
            return Ok(Verdict::Fine);
        }
        let this = u32::from_le_bytes([page[14], page[15], page[16], page[17]]);
        let segments = usize::from(page[26]);
        let Some(lacing) = head.get(at + 27..at + 27 + segments) else {
            return Ok(Verdict::NeedBytes(at + 27 + segments));
        };
        let mut data = at + 27 + segments;
        let end = data + lacing.iter().map(|&l| usize::from(l)).sum::<usize>();
        if end > MAX_CHECKED_HEADER {
            return Err(DecodeError::TooLarge("Ogg headers over 16 MiB".into()));
        }
        if head.len() < end {
            return Ok(Verdict::NeedBytes(end));
        }
        if *serial.get_or_insert(this) == this {
            for &len in lacing {
                let part = &head[data..data + usize::from(len)];
                let packet = packets.last_mut().expect("there is always an open packet");
                packet.extend_from_slice(part);
                if len < 255 {
                    packets.push(Vec::new());
                }
                data += usize::from(len);
            }
        }
        at = end;
    }
    let comment = &packets[1];
    if let Some(body) = comment.strip_prefix(b"\x03vorbis") {
        vorbis_comment(body, "Ogg Vorbis")?;
    } else if let Some(body) = comment.strip_prefix(b"OpusTags") {
        vorbis_comment(body, "Ogg Opus")?;
    }
    Ok(Verdict::Fine)
}

/// Atoms whose children are atoms, and how many bytes of their own come before them.
const MP4_CONTAINERS: [(&[u8; 4], usize); 11] = [
    (b"moov", 0),
    (b"trak", 0),
    (b"mdia", 0),
    (b"minf", 0),
    (b"stbl", 0),
    (b"udta", 0),
    (b"edts", 0),
    (b"dinf", 0),
    (b"mvex", 0),
    (b"ilst", 0),
    (b"meta", 4),
];

/// Sample-table atoms: (type, bytes per entry, offset of the entry count in the body). Their
/// entry counts size symphonia's allocations.
const MP4_TABLES: [(&[u8; 4], u64, usize); 7] = [
    (b"stts", 8, 4),
    (b"stsc", 12, 4),
    (b"stco", 4, 4),
    (b"co64", 8, 4),
    (b"ctts", 8, 4),
    (b"stss", 4, 4),
    (b"elst", 12, 4),
];

/// Checks the atoms of an MP4/M4A file (`head` has `ftyp` at 4): every atom fits inside its
/// parent, and every sample table's entry count fits inside its atom. `len` is the input's
/// length when known. The movie atom is checked when it lies within [`MAX_CHECKED_HEADER`]
/// bytes of the start (files written for streaming put it first); beyond that the check
/// stops, and symphonia's own reading is all there is.
pub(crate) fn mp4(head: &[u8], len: Option<u64>) -> Result<Verdict, DecodeError> {
    let mut at = 0u64;
    loop {
        let Some((size, kind, header)) = atom_header(head, at) else {
            // the top level ended with the input, or goes on beyond what can be checked
            if len.is_some_and(|len| at >= len) || at + 16 > MAX_CHECKED_HEADER as u64 {
                return Ok(Verdict::Fine);
            }
            let want = len.map_or(at + 16, |len| len.min(at + 16));
            return Ok(Verdict::NeedBytes(
                usize::try_from(want).unwrap_or(usize::MAX),
            ));
        };
        let end = if size == 0 {
            len.unwrap_or(u64::MAX)
        } else {
            at + size
        };
        if size != 0 && size < header {
            return Err(DecodeError::Corrupt(format!(
                "MP4 atom at byte {at} is shorter than its header"
            )));
        }
        if size != 0 && len.is_some_and(|len| end > len) {
            return Err(DecodeError::Corrupt(format!(
                "MP4 atom {:?} at byte {at} claims {size} bytes, past the end of the file",
                String::from_utf8_lossy(&kind)
            )));
        }
        if &kind == b"moov" {
            if end > MAX_CHECKED_HEADER as u64 {
                return Ok(Verdict::Fine);
            }
            let end = usize::try_from(end).unwrap_or(usize::MAX);
            let Some(body) = head.get(usize::try_from(at + header).unwrap_or(usize::MAX)..end)
            else {
                return Ok(Verdict::NeedBytes(end));
            };
            mp4_children(body, 0)?;
            return Ok(Verdict::Fine);
        }
        if size == 0 || end >= MAX_CHECKED_HEADER as u64 {
            return Ok(Verdict::Fine);
        }
        at = end;
    }
}

/// An atom's size, type and header length at `at`, if the header is within `bytes`.
fn atom_header(bytes: &[u8], at: u64) -> Option<(u64, [u8; 4], u64)> {
    let at = usize::try_from(at).ok()?;
    let h = bytes.get(at..at + 8)?;
    let size = u64::from(u32::from_be_bytes([h[0], h[1], h[2], h[3]]));
    let kind = [h[4], h[5], h[6], h[7]];
    if size == 1 {
        let l = bytes.get(at + 8..at + 16)?;
        let large = u64::from_be_bytes([l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7]]);
        return Some((large, kind, 16));
    }
    Some((size, kind, 8))
}

/// Checks the atoms inside `body`, which holds a container's children.
fn mp4_children(body: &[u8], depth: usize) -> Result<(), DecodeError> {
    let corrupt = |what: String| DecodeError::Corrupt(format!("MP4 {what}"));
    if depth > 16 {
        return Err(corrupt("atoms nest deeper than 16".into()));
    }
    let mut at = 0u64;
    while (at as usize) < body.len() {
        let Some((size, kind, header)) = atom_header(body, at) else {
            return Err(corrupt(format!(
                "atom header cut off at byte {at} of its parent"
            )));
        };
        let size = if size == 0 {
            body.len() as u64 - at
        } else {
            size
        };
        let end = at.checked_add(size).filter(|&end| end <= body.len() as u64);
        let Some(end) = end.filter(|_| size >= header) else {
            return Err(corrupt(format!(
                "atom {:?} claims {size} bytes, more than its parent holds",
                String::from_utf8_lossy(&kind)
            )));
        };
        let inner = &body[(at + header) as usize..end as usize];
        if let Some(&(_, skip)) = MP4_CONTAINERS.iter().find(|(k, _)| **k == kind) {
            mp4_children(inner.get(skip..).unwrap_or_default(), depth + 1)?;
        }
        if let Some(&(_, entry, count_at)) = MP4_TABLES.iter().find(|(k, _, _)| **k == kind) {
            let count = inner
                .get(count_at..count_at + 4)
                .map(|b| u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
                .ok_or_else(|| {
                    corrupt(format!(
                        "{:?} atom without its entry count",
                        String::from_utf8_lossy(&kind)
                    ))
                })?;
            if count.saturating_mul(entry) > (inner.len() - (count_at + 4)) as u64 {
                return Err(corrupt(format!(
                    "{:?} table of {count} entries does not fit in its {} bytes",
                    String::from_utf8_lossy(&kind),
                    inner.len()
                )));
            }
        }
        if &kind == b"stsz" {
            stsz(inner)?;
        }
        at = end;
    }
    Ok(())
}

/// Largest audio sample (one coded frame) an MP4 file may declare: symphonia reads each
/// sample into a buffer of its declared size. Real audio frames are a few kilobytes.
const MAX_MP4_SAMPLE: u32 = 1 << 20;

/// The sample-size table: a fixed size, or (fixed size 0) one size per sample, each checked.
fn stsz(body: &[u8]) -> Result<(), DecodeError> {
    let corrupt = |what: &str| DecodeError::Corrupt(format!("MP4 \"stsz\" {what}"));
    let word = |at: usize| {
        body.get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (Some(fixed), Some(count)) = (word(4), word(8)) else {
        return Err(corrupt("atom is cut off"));
    };
    if fixed > MAX_MP4_SAMPLE {
        return Err(corrupt(&format!("declares samples of {fixed} bytes")));
    }
    if fixed == 0 {
        let sizes = body.get(12..).unwrap_or_default();
        if u64::from(count) * 4 > sizes.len() as u64 {
            return Err(corrupt(&format!(
                "table of {count} sizes does not fit in its atom"
            )));
        }
        if let Some(size) = sizes
            .chunks_exact(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .find(|&size| size > MAX_MP4_SAMPLE)
        {
            return Err(corrupt(&format!("declares a sample of {size} bytes")));
        }
    }
    Ok(())
}

/// A Vorbis comment list: vendor string, count, then length-prefixed comments, all of which
/// must fit in `body`.
fn vorbis_comment(body: &[u8], container: &str) -> Result<(), DecodeError> {
    let overrun =
        || DecodeError::Corrupt(format!("{container} comment lengths overrun their header"));
    let mut fields = Fields { body, at: 0 };
    let vendor = fields.u32_le().ok_or_else(overrun)?;
    fields.skip(vendor).ok_or_else(overrun)?;
    let count = fields.u32_le().ok_or_else(overrun)?;
    for _ in 0..count {
        let len = fields.u32_le().ok_or_else(overrun)?;
        fields.skip(len).ok_or_else(overrun)?;
    }
    Ok(())
}

/// A FLAC picture block: big-endian lengths of the media type, description and image data.
fn flac_picture(body: &[u8]) -> Result<(), DecodeError> {
    let overrun = || DecodeError::Corrupt("FLAC picture lengths overrun their block".into());
    let mut fields = Fields { body, at: 4 };
    let media_type = fields.u32_be().ok_or_else(overrun)?;
    fields.skip(media_type).ok_or_else(overrun)?;
    let description = fields.u32_be().ok_or_else(overrun)?;
    fields.skip(description).ok_or_else(overrun)?;
    fields.skip(16).ok_or_else(overrun)?;
    let data = fields.u32_be().ok_or_else(overrun)?;
    fields.skip(data).ok_or_else(overrun)?;
    Ok(())
}

/// A cursor over a header body; every read fails past its end.
struct Fields<'a> {
    body: &'a [u8],
    at: usize,
}

impl Fields<'_> {
    fn take(&mut self, len: u32) -> Option<&[u8]> {
        let end = self.at.checked_add(usize::try_from(len).ok()?)?;
        let bytes = self.body.get(self.at..end)?;
        self.at = end;
        Some(bytes)
    }

    fn skip(&mut self, len: u32) -> Option<()> {
        self.take(len).map(|_| ())
    }

    fn u32_le(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u32_be(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(vendor: &[u8], comments: &[&[u8]]) -> Vec<u8> {
        let mut body = (vendor.len() as u32).to_le_bytes().to_vec();
        body.extend_from_slice(vendor);
        body.extend_from_slice(&(comments.len() as u32).to_le_bytes());
        for c in comments {
            body.extend_from_slice(&(c.len() as u32).to_le_bytes());
            body.extend_from_slice(c);
        }
        body
    }

    fn flac_with(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut file = b"fLaC".to_vec();
        file.push(0x80 | kind);
        file.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        file.extend_from_slice(body);
        file
    }

    #[test]
    fn consistent_comments_pass_and_overlong_ones_are_refused() {
        let good = comment(b"callscore", &[b"TITLE=survey", b"ARTIST=ivr"]);
        assert_eq!(flac(&flac_with(4, &good)).ok(), Some(Verdict::Fine));
        let mut bad = good;
        // the second comment claims 4 GiB
        let second = 4 + 9 + 4 + 4 + 12;
        bad[second..second + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            flac(&flac_with(4, &bad)),
            Err(DecodeError::Corrupt(_))
        ));
    }

    #[test]
    fn a_cut_header_asks_for_more_bytes() {
        let file = flac_with(4, &comment(b"v", &[b"A=B"]));
        assert_eq!(flac(&file[..6]).ok(), Some(Verdict::NeedBytes(8)));
        assert_eq!(flac(&file[..9]).ok(), Some(Verdict::NeedBytes(file.len())));
    }

    #[test]
    fn picture_lengths_are_checked() {
        let mut body = vec![0, 0, 0, 3];
        body.extend_from_slice(&9u32.to_be_bytes());
        body.extend_from_slice(b"image/png");
        body.extend_from_slice(&0u32.to_be_bytes());
        body.extend_from_slice(&[0; 16]);
        body.extend_from_slice(&2u32.to_be_bytes());
        body.extend_from_slice(&[1, 2]);
        assert_eq!(flac(&flac_with(6, &body)).ok(), Some(Verdict::Fine));
        let len = body.len();
        body[len - 6..len - 2].copy_from_slice(&0x7FFF_FFFFu32.to_be_bytes());
        assert!(flac(&flac_with(6, &body)).is_err());
    }
}
