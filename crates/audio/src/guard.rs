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
