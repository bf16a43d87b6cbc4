//! The chunked transfer coding (RFC 9112 §7.1), decoded from a read buffer
//! as bytes arrive. Chunk extensions are skipped and trailer fields are
//! read and dropped: the server side frames the body anew for the client.
//! The upstream client decodes responses with it; the server follows
//! requests on connections hyper serves with it (`framing_guard.rs`).

use bytes::{Buf, Bytes, BytesMut};

/// Longest chunk-size line (size and extensions) and trailer section
/// accepted, so a peer cannot make the proxy buffer without bound.
const MAX_SIZE_LINE: usize = 4096;
const MAX_TRAILERS: usize = 16 * 1024;

/// Decoder state between reads.
#[derive(Debug)]
pub(crate) struct Chunked {
    state: State,
    /// Bytes of the current size line, or of the trailer section, so far.
    seen: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Hex digits of a chunk size.
    Size {
        size: u64,
        digits: u8,
    },
    /// Spaces or tabs after the size (some servers pad it).
    SizePadding(u64),
    /// A chunk extension, skipped up to CR.
    Extension(u64),
    /// The LF that ends a chunk-size line.
    SizeLf(u64),
    /// Data bytes still to come in this chunk.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataCr,
    DataLf,
    /// The trailer section after the last chunk, up to an empty line.
    Trailer {
        line_start: bool,
    },
    TrailerLf {
        line_start: bool,
    },
    Done,
}

/// What one call made of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decoded {
    Data(Bytes),
    /// Everything buffered is consumed; read more.
    NeedMore,
    /// The last chunk and the trailers are read: the body is complete.
    Done,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ChunkError {
    #[error("invalid chunk size line")]
    SizeLine,
    #[error("chunk size line or trailer section too long")]
    TooLong,
    #[error("chunk data not followed by CRLF")]
    MissingCrlf,
    #[error("trailer line not ended by CRLF")]
    Trailer,
}

impl Default for Chunked {
    fn default() -> Chunked {
        Chunked {
            state: State::Size { size: 0, digits: 0 },
            seen: 0,
        }
    }
}

impl Chunked {
    /// Consumes framing bytes from the front of `buf` and returns the next
    /// piece of data, sharing the buffer's bytes.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, ChunkError> {
        loop {
            match self.state {
                State::Done => return Ok(Decoded::Done),
                State::Data(remaining) => {
                    if buf.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    let n = remaining.min(buf.len() as u64);
                    self.state = if n == remaining {
                        State::DataCr
                    } else {
                        State::Data(remaining - n)
                    };
                    return Ok(Decoded::Data(buf.split_to(n as usize).freeze()));
                }
                _ => {
                    let Some(&byte) = buf.first() else {
                        return Ok(Decoded::NeedMore);
                    };
                    buf.advance(1);
                    self.state = self.step(byte)?;
                }
            }
        }
    }

    /// Walks the framing of `input` without taking its data out, for a
    /// reader that only watches a body go by: how many bytes of `input`
    /// the body used, and whether it ended in them.
    pub(crate) fn skip(&mut self, input: &[u8]) -> Result<(usize, bool), ChunkError> {
        let mut used = 0;
        while used < input.len() && self.state != State::Done {
            if let State::Data(remaining) = self.state {
                let n = remaining.min((input.len() - used) as u64);
                used += n as usize;
                self.state = if n == remaining {
                    State::DataCr
                } else {
                    State::Data(remaining - n)
                };
            } else {
                let byte = input[used];
                used += 1;
                self.state = self.step(byte)?;
            }
        }
        Ok((used, self.state == State::Done))
    }

    /// The state after one framing byte.
    fn step(&mut self, byte: u8) -> Result<State, ChunkError> {
        self.seen += 1;
        let limit = match self.state {
            State::Trailer { .. } | State::TrailerLf { .. } => MAX_TRAILERS,
            _ => MAX_SIZE_LINE,
        };
        if self.seen > limit {
            return Err(ChunkError::TooLong);
        }
        Ok(match (self.state, byte) {
            (State::Size { size, digits }, _) if byte.is_ascii_hexdigit() => {
                // Leading zeros are valid however many (RFC 9112 §7.1);
                // only a value past a u64 is refused.
                if size >> 60 != 0 {
                    return Err(ChunkError::SizeLine);
                }
                let value = (byte as char).to_digit(16).expect("a hex digit") as u64;
                State::Size {
                    size: size << 4 | value,
                    digits: digits.saturating_add(1),
                }
            }
            (State::Size { size, digits }, _) if digits > 0 => after_size(size, byte)?,
            (State::SizePadding(size), _) => after_size(size, byte)?,
            (State::Extension(size), b'\r') => State::SizeLf(size),
            // A bare LF (or any control byte) in an extension is refused:
            // a parser that ends the line there and one that reads on to
            // the CRLF would frame the body differently (CVE-2025-22871).
            (State::Extension(_), _) if byte.is_ascii_control() && byte != b'\t' => {
                return Err(ChunkError::SizeLine);
            }
            (State::Extension(size), _) => State::Extension(size),
            (State::SizeLf(size), b'\n') => {
                self.seen = 0;
                if size == 0 {
                    State::Trailer { line_start: true }
                } else {
                    State::Data(size)
                }
            }
            (State::DataCr, b'\r') => State::DataLf,
            (State::DataLf, b'\n') => {
                self.seen = 0;
                State::Size { size: 0, digits: 0 }
            }
            (State::DataCr | State::DataLf, _) => return Err(ChunkError::MissingCrlf),
            (State::Trailer { line_start }, b'\r') => State::TrailerLf { line_start },
            // A bare LF would end a trailer line for some parsers only.
            (State::Trailer { .. }, b'\n') => return Err(ChunkError::Trailer),
            (State::Trailer { .. }, _) => State::Trailer { line_start: false },
            (State::TrailerLf { line_start: true }, b'\n') => State::Done,
            (State::TrailerLf { line_start: false }, b'\n') => State::Trailer { line_start: true },
            (State::TrailerLf { .. }, _) => return Err(ChunkError::Trailer),
            _ => return Err(ChunkError::SizeLine),
        })
    }
}

/// After a chunk size (and any padding): more padding, an extension, or CR.
fn after_size(size: u64, byte: u8) -> Result<State, ChunkError> {
    match byte {
        b' ' | b'\t' => Ok(State::SizePadding(size)),
        b';' => Ok(State::Extension(size)),
        b'\r' => Ok(State::SizeLf(size)),
        _ => Err(ChunkError::SizeLine),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes; returns the data and how it ended.
    fn decode_in_pieces(input: &[u8], step: usize) -> (Vec<u8>, Result<bool, ChunkError>) {
        let mut decoder = Chunked::default();
        let mut buf = BytesMut::new();
        let mut data = Vec::new();
        for piece in input.chunks(step) {
            buf.extend_from_slice(piece);
            loop {
                match decoder.decode(&mut buf) {
                    Ok(Decoded::Data(bytes)) => data.extend_from_slice(&bytes),
                    Ok(Decoded::NeedMore) => break,
                    Ok(Decoded::Done) => return (data, Ok(true)),
                    Err(err) => return (data, Err(err)),
                }
            }
        }
        (data, Ok(false))
    }

    #[test]
    fn decodes_chunks_split_at_every_byte() {
        let input = b"5\r\nhello\r\n7;name=value;x\r\n, world\r\nA \r\n0123456789\r\n0\r\n\r\n";
        for step in 1..=input.len() {
            let (data, end) = decode_in_pieces(input, step);
            assert_eq!(data, b"hello, world0123456789", "in pieces of {step}");
            assert_eq!(end, Ok(true), "in pieces of {step}");
        }
    }

    #[test]
    fn skips_trailers_and_leaves_what_follows() {
        let mut decoder = Chunked::default();
        let mut buf =
            BytesMut::from(&b"2\r\nok\r\n0\r\nx-checksum: 1\r\nx-more: 2\r\n\r\nNEXT"[..]);
        assert_eq!(
            decoder.decode(&mut buf),
            Ok(Decoded::Data(Bytes::from_static(b"ok")))
        );
        assert_eq!(decoder.decode(&mut buf), Ok(Decoded::Done));
        assert_eq!(&buf[..], b"NEXT", "bytes after the body are not consumed");
    }

    #[test]
    fn an_unfinished_body_asks_for_more() {
        assert_eq!(
            decode_in_pieces(b"5\r\nhel", 100),
            (b"hel".to_vec(), Ok(false))
        );
        assert_eq!(decode_in_pieces(b"0\r\n", 100), (Vec::new(), Ok(false)));
    }

    #[test]
    fn refuses_malformed_framing() {
        for (input, error) in [
            (&b"\r\n"[..], ChunkError::SizeLine),
            (b"x\r\n", ChunkError::SizeLine),
            (b"5x\r\n", ChunkError::SizeLine),
            (b"5\rX", ChunkError::SizeLine),
            (b"3\r\nabcX", ChunkError::MissingCrlf),
            (b"3\r\nabc\rX", ChunkError::MissingCrlf),
            (b"11111111111111111\r\n", ChunkError::SizeLine),
            (b"0\r\nx: y\rZ", ChunkError::Trailer),
            (b"0\r\nx: y\n\r\n", ChunkError::Trailer),
            (b"5;a\nb\r\nhello\r\n", ChunkError::SizeLine),
            (b"5;a\x00b\r\n", ChunkError::SizeLine),
        ] {
            let (_, end) = decode_in_pieces(input, 100);
            assert_eq!(end, Err(error), "{:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn bounds_the_size_line_and_the_trailers() {
        let mut long_extension = b"1;".to_vec();
        long_extension.extend(std::iter::repeat_n(b'e', MAX_SIZE_LINE));
        assert_eq!(
            decode_in_pieces(&long_extension, 512).1,
            Err(ChunkError::TooLong)
        );

        let mut long_trailers = b"0\r\n".to_vec();
        for _ in 0..2000 {
            long_trailers.extend_from_slice(b"x-field: value\r\n");
        }
        assert_eq!(
            decode_in_pieces(&long_trailers, 512).1,
            Err(ChunkError::TooLong)
        );
    }

    #[test]
    fn skipping_walks_the_same_framing_and_stops_at_the_end() {
        let input = b"5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\nNEXT";
        for step in 1..=input.len() {
            let mut decoder = Chunked::default();
            let mut used_total = 0;
            let mut ended = false;
            for piece in input.chunks(step) {
                let (used, done) = decoder.skip(piece).unwrap();
                used_total += used;
                if done {
                    ended = true;
                    break;
                }
            }
            assert!(ended, "in pieces of {step}");
            assert_eq!(used_total, input.len() - 4, "in pieces of {step}");
        }
        let mut decoder = Chunked::default();
        assert_eq!(decoder.skip(b"0\r\nX-T: 1\n\r\n"), Err(ChunkError::Trailer));
    }

    #[test]
    fn leading_zeros_are_any_number() {
        let (data, end) = decode_in_pieces(b"00000000000000000005\r\nhello\r\n000\r\n\r\n", 7);
        assert_eq!((data, end), (b"hello".to_vec(), Ok(true)));
        let (_, end) = decode_in_pieces(b"0000000000000000010000000000000000\r\n", 100);
        assert_eq!(end, Err(ChunkError::SizeLine), "past a u64 is refused");
    }

    #[test]
    fn the_largest_size_fits() {
        let mut decoder = Chunked::default();
        let mut buf = BytesMut::from(&b"ffffffffffffffff\r\nab"[..]);
        assert_eq!(
            decoder.decode(&mut buf),
            Ok(Decoded::Data(Bytes::from_static(b"ab")))
        );
        assert_eq!(decoder.state, State::Data(u64::MAX - 2));
    }
}
