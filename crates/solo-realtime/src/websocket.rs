//! The WebSocket wire format (RFC 6455), server side: the opening handshake's
//! accept key, frames written by the server, and an incremental decoder of the
//! frames clients send.
//!
//! Solo frames its own messages instead of going through a WebSocket library
//! because of fan-out: a server frame is never masked, so the frame of a
//! publication (header and payload) is the same bytes for every subscriber. It
//! is built once per channel and written by each connection as it is, with no
//! per-subscriber framing, copy or write buffer. No extension is negotiated
//! (no compression), so the reserved bits must be zero.

use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};
use sha1::{Digest, Sha1};

/// The GUID of RFC 6455, section 1.3.
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.trim().as_bytes());
    sha.update(ACCEPT_GUID);
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

fn frame(opcode: u8, payload: &[u8]) -> Bytes {
    let len = payload.len();
    let mut out = BytesMut::with_capacity(len + 10);
    out.put_u8(0x80 | opcode);
    if len < 126 {
        out.put_u8(len as u8);
    } else if let Ok(short) = u16::try_from(len) {
        out.put_u8(126);
        out.put_u16(short);
    } else {
        out.put_u8(127);
        out.put_u64(len as u64);
    }
    out.put_slice(payload);
    out.freeze()
}

/// A whole text frame carrying `payload` (UTF-8 JSON).
pub fn text_frame(payload: &[u8]) -> Bytes {
    frame(OP_TEXT, payload)
}

/// A whole binary frame carrying `payload` (length-delimited protobuf replies).
pub fn binary_frame(payload: &[u8]) -> Bytes {
    frame(OP_BINARY, payload)
}

/// A close frame with a status code and a short reason.
pub fn close_frame(code: u16, reason: &str) -> Bytes {
    let mut payload = Vec::with_capacity(2 + reason.len());
    payload.extend_from_slice(&code.to_be_bytes());
    // Control frames carry at most 125 bytes.
    payload.extend_from_slice(&reason.as_bytes()[..reason.len().min(123)]);
    frame(OP_CLOSE, &payload)
}

/// The answer to a client's ping.
pub fn pong_frame(payload: &[u8]) -> Bytes {
    frame(OP_PONG, payload)
}

/// A message a client sent, reassembled from its frames.
#[derive(Debug, PartialEq, Eq)]
pub enum Message {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong,
    /// The client closes, with its status code if it gave one.
    Close(Option<u16>),
}

/// Why a client's bytes are not a WebSocket stream the server accepts; each
/// maps to the close code RFC 6455 assigns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("protocol error")]
    Protocol,
    #[error("message too big")]
    TooBig,
    #[error("text is not UTF-8")]
    NotUtf8,
}

impl FrameError {
    pub fn close_code(self) -> u16 {
        match self {
            FrameError::Protocol => 1002,
            FrameError::TooBig => 1009,
            FrameError::NotUtf8 => 1007,
        }
    }
}

/// Decodes client frames from a byte buffer as they arrive. Holds only the
/// part of a fragmented message received so far, so an idle connection keeps
/// nothing here.
#[derive(Debug)]
pub struct Decoder {
    /// Every idle connection holds a decoder: its limit is kept in 4 bytes
    /// and the rare fragmented message behind a pointer.
    max_message: u32,
    /// A fragmented message being reassembled: its opcode and bytes so far.
    fragments: Option<Box<(u8, Vec<u8>)>>,
}

impl Decoder {
    /// A decoder refusing messages over `max_message` bytes (at most 4 GiB).
    pub fn new(max_message: usize) -> Self {
        Self { max_message: u32::try_from(max_message).unwrap_or(u32::MAX), fragments: None }
    }

    /// Takes the next complete message off the front of `buf`, if `buf` holds
    /// one; bytes of an incomplete frame stay in `buf` for the next read.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, FrameError> {
        loop {
            let Some(header) = parse_header(buf)? else { return Ok(None) };
            let control = header.opcode & 0x8 != 0;
            if control && (!header.fin || header.len > 125) {
                return Err(FrameError::Protocol);
            }
            let held = self.fragments.as_ref().map_or(0, |fragments| fragments.1.len());
            if !control && (held as u64).saturating_add(header.len) > u64::from(self.max_message) {
                return Err(FrameError::TooBig);
            }
            let total = header.header_len + header.len as usize;
            if buf.len() < total {
                // Reserve the rest of this frame once instead of growing read by read.
                buf.reserve(total - buf.len());
                return Ok(None);
            }
            let mut frame = buf.split_to(total);
            let mut payload = frame.split_off(header.header_len);
            unmask(&mut payload, header.mask);
            match header.opcode {
                OP_TEXT | OP_BINARY => {
                    if self.fragments.is_some() {
                        return Err(FrameError::Protocol);
                    }
                    if header.fin {
                        return finish(header.opcode, payload.to_vec()).map(Some);
                    }
                    self.fragments = Some(Box::new((header.opcode, payload.to_vec())));
                }
                OP_CONTINUATION => {
                    let Some(fragments) = self.fragments.as_mut() else { return Err(FrameError::Protocol) };
                    fragments.1.extend_from_slice(&payload);
                    if header.fin {
                        let Some(fragments) = self.fragments.take() else { return Err(FrameError::Protocol) };
                        let (opcode, bytes) = *fragments;
                        return finish(opcode, bytes).map(Some);
                    }
                }
                OP_PING => return Ok(Some(Message::Ping(payload.to_vec()))),
                OP_PONG => return Ok(Some(Message::Pong)),
                OP_CLOSE => {
                    let code = match payload.len() {
                        0 => None,
                        1 => return Err(FrameError::Protocol),
                        _ => Some(u16::from_be_bytes([payload[0], payload[1]])),
                    };
                    return Ok(Some(Message::Close(code)));
                }
                _ => return Err(FrameError::Protocol),
            }
        }
    }
}

fn finish(opcode: u8, bytes: Vec<u8>) -> Result<Message, FrameError> {
    if opcode == OP_TEXT {
        String::from_utf8(bytes).map(Message::Text).map_err(|_| FrameError::NotUtf8)
    } else {
        Ok(Message::Binary(bytes))
    }
}

struct Header {
    fin: bool,
    opcode: u8,
    mask: [u8; 4],
    len: u64,
    header_len: usize,
}

/// A frame's payload length from its second byte and the bytes after it, and
/// how many of those the length took (0, 2 or 8); None until they have arrived.
fn payload_length(second: u8, rest: &[u8]) -> Option<(u64, usize)> {
    match second & 0x7F {
        126 => rest.get(..2).map(|b| (u64::from(u16::from_be_bytes([b[0], b[1]])), 2)),
        127 => rest.get(..8).map(|b| {
            let mut be = [0u8; 8];
            be.copy_from_slice(b);
            (u64::from_be_bytes(be), 8)
        }),
        short => Some((u64::from(short), 0)),
    }
}

/// The header at the front of `buf`, once all of it has arrived.
fn parse_header(buf: &[u8]) -> Result<Option<Header>, FrameError> {
    let [first, second, rest @ ..] = buf else { return Ok(None) };
    if first & 0x70 != 0 {
        // Reserved bits: no extension was negotiated.
        return Err(FrameError::Protocol);
    }
    if second & 0x80 == 0 {
        // Every frame from a client is masked (RFC 6455, section 5.1).
        return Err(FrameError::Protocol);
    }
    let Some((len, extra)) = payload_length(*second, rest) else { return Ok(None) };
    let Some(mask) = rest.get(extra..extra + 4) else { return Ok(None) };
    Ok(Some(Header {
        fin: first & 0x80 != 0,
        opcode: first & 0x0F,
        mask: [mask[0], mask[1], mask[2], mask[3]],
        len,
        header_len: 2 + extra + 4,
    }))
}

fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[i & 3];
    }
}

/// A frame as a client sends it, for the engine's end of an HTTP stream's
/// socket pair (see [`crate::stream`]): text for JSON commands, binary for
/// protobuf ones; masked, as every client frame must be, with the all-zero
/// key, which leaves the payload as it is (the pair never leaves the process,
/// so the key protects nothing here).
pub(crate) fn loopback_client_frame(binary: bool, payload: &[u8]) -> Bytes {
    let len = payload.len();
    let mut out = BytesMut::with_capacity(len + 14);
    out.put_u8(0x80 | if binary { OP_BINARY } else { OP_TEXT });
    if len < 126 {
        out.put_u8(0x80 | len as u8);
    } else if let Ok(short) = u16::try_from(len) {
        out.put_u8(0x80 | 126);
        out.put_u16(short);
    } else {
        out.put_u8(0x80 | 127);
        out.put_u64(len as u64);
    }
    out.put_slice(&[0; 4]);
    out.put_slice(payload);
    out.freeze()
}

/// A frame the engine wrote, read back on the other end of an HTTP stream's
/// socket pair.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ServerFrame {
    Text(Bytes),
    /// Replies of a protobuf connection.
    Binary(Bytes),
    /// The engine closes, with its code and reason.
    Close(u16, String),
    /// Anything else the engine writes (a pong): nothing for the client.
    Other,
}

/// Takes the next whole frame the server wrote off the front of `buf`, if it
/// holds one. Server frames are never masked or fragmented (see [`frame`]).
pub(crate) fn decode_server_frame(buf: &mut BytesMut) -> Result<Option<ServerFrame>, FrameError> {
    let [first, second, rest @ ..] = &buf[..] else { return Ok(None) };
    if second & 0x80 != 0 || first & 0x80 == 0 {
        return Err(FrameError::Protocol);
    }
    let Some((len, extra)) = payload_length(*second, rest) else { return Ok(None) };
    let len = usize::try_from(len).map_err(|_| FrameError::TooBig)?;
    let opcode = first & 0x0F;
    let header_len = 2 + extra;
    if buf.len() < header_len + len {
        buf.reserve(header_len + len - buf.len());
        return Ok(None);
    }
    let payload = buf.split_to(header_len + len).split_off(header_len).freeze();
    Ok(Some(match opcode {
        OP_TEXT => ServerFrame::Text(payload),
        OP_BINARY => ServerFrame::Binary(payload),
        OP_CLOSE => match &payload[..] {
            [a, b, reason @ ..] => {
                ServerFrame::Close(u16::from_be_bytes([*a, *b]), String::from_utf8_lossy(reason).into_owned())
            }
            _ => ServerFrame::Close(1005, String::new()),
        },
        _ => ServerFrame::Other,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame as a client sends it (masked).
    fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let mut out = vec![(u8::from(fin) << 7) | opcode];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xFFFF => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    #[test]
    fn the_accept_key_of_the_rfc_example() {
        assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn server_frames_use_the_shortest_length() {
        assert_eq!(&text_frame(b"{}")[..], b"\x81\x02{}");
        let medium = text_frame(&[b'a'; 300]);
        assert_eq!(&medium[..4], &[0x81, 126, 0x01, 0x2c]);
        assert_eq!(medium.len(), 304);
        let large = text_frame(&vec![b'a'; 70_000]);
        assert_eq!(&large[..2], &[0x81, 127]);
        assert_eq!(large.len(), 70_010);
        assert_eq!(&close_frame(3008, "slow")[..], b"\x88\x06\x0b\xc0slow");
    }

    #[test]
    fn messages_arrive_whole_whatever_the_reads() {
        let mut wire = client_frame(true, OP_TEXT, br#"{"id":1}"#);
        wire.extend(client_frame(false, OP_TEXT, b"hel"));
        wire.extend(client_frame(true, OP_PING, b"p"));
        wire.extend(client_frame(true, OP_CONTINUATION, "l\u{f6}".as_bytes()));
        wire.extend(client_frame(true, OP_TEXT, &[b'x'; 1000]));
        wire.extend(client_frame(true, OP_CLOSE, &1000u16.to_be_bytes()));
        // Byte by byte: every split point of every frame.
        let mut decoder = Decoder::new(4096);
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for byte in wire {
            buf.put_u8(byte);
            while let Some(message) = decoder.decode(&mut buf).expect("valid") {
                got.push(message);
            }
        }
        assert_eq!(
            got,
            vec![
                Message::Text(r#"{"id":1}"#.into()),
                Message::Ping(b"p".to_vec()),
                Message::Text("hell\u{f6}".into()),
                Message::Text("x".repeat(1000)),
                Message::Close(Some(1000)),
            ]
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn bad_frames_are_refused_with_their_close_code() {
        let decode = |wire: Vec<u8>, max: usize| {
            let mut buf = BytesMut::from(&wire[..]);
            Decoder::new(max).decode(&mut buf)
        };
        assert_eq!(decode(text_frame(b"{}").to_vec(), 64), Err(FrameError::Protocol), "unmasked");
        let mut rsv = client_frame(true, OP_TEXT, b"{}");
        rsv[0] |= 0x40;
        assert_eq!(decode(rsv, 64), Err(FrameError::Protocol), "a reserved bit");
        assert_eq!(decode(client_frame(true, OP_TEXT, &[b'a'; 65]), 64), Err(FrameError::TooBig));
        // The size is refused from the header alone, before the payload arrives.
        assert_eq!(decode(client_frame(true, OP_TEXT, &[b'a'; 100_000])[..14].to_vec(), 64), Err(FrameError::TooBig));
        assert_eq!(decode(client_frame(true, OP_TEXT, &[0xff, 0xfe]), 64), Err(FrameError::NotUtf8));
        assert_eq!(
            decode(client_frame(true, OP_CONTINUATION, b"x"), 64),
            Err(FrameError::Protocol),
            "nothing to continue"
        );
        assert_eq!(decode(client_frame(false, OP_PING, b"x"), 64), Err(FrameError::Protocol), "fragmented control");
        assert_eq!(decode(client_frame(true, 0x3, b"x"), 64), Err(FrameError::Protocol), "reserved opcode");
        let mut split = client_frame(false, OP_TEXT, &[b'a'; 40]);
        split.extend(client_frame(true, OP_CONTINUATION, &[b'a'; 40]));
        assert_eq!(decode(split, 64), Err(FrameError::TooBig), "the limit counts every fragment");
        assert_eq!(decode(client_frame(true, OP_TEXT, b"{}")[..5].to_vec(), 64), Ok(None), "incomplete");
    }

    #[test]
    fn the_socket_pair_of_an_http_stream_speaks_frames_both_ways() {
        // What a stream writes in for the engine, the engine's decoder reads.
        for size in [2, 200, 70_000] {
            let text = "x".repeat(size);
            let mut buf = BytesMut::from(&super::loopback_client_frame(false, text.as_bytes())[..]);
            assert_eq!(Decoder::new(100_000).decode(&mut buf), Ok(Some(Message::Text(text))));
            assert!(buf.is_empty());
        }
        // What the engine writes, the stream reads back, frame by frame, however it arrives.
        let mut wire = BytesMut::new();
        wire.extend_from_slice(&text_frame(&[b'a'; 300]));
        wire.extend_from_slice(&pong_frame(b""));
        wire.extend_from_slice(&close_frame(3008, "slow"));
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for byte in wire {
            buf.extend_from_slice(&[byte]);
            while let Some(frame) = decode_server_frame(&mut buf).expect("a server frame") {
                frames.push(frame);
            }
        }
        assert_eq!(
            frames,
            [
                ServerFrame::Text(Bytes::from(vec![b'a'; 300])),
                ServerFrame::Other,
                ServerFrame::Close(3008, "slow".into())
            ]
        );
        let mut masked = BytesMut::from(&super::loopback_client_frame(false, b"{}")[..]);
        assert_eq!(decode_server_frame(&mut masked), Err(FrameError::Protocol), "a client frame is not the server's");
    }
}
