//! Copying to the operator's own clipboard from a remote server: OSC 52
//! (`ESC ] 52 ; c ; BASE64 ESC \`), which terminals such as xterm, kitty, WezTerm, iTerm2,
//! Windows Terminal and tmux (`set-clipboard on`) honour. This is the one place llamadeck
//! writes a control sequence on purpose, and its payload is base64: no control bytes.

/// The bytes that put `text` on the clipboard.
pub fn osc52(text: &str) -> Vec<u8> {
    let mut out = b"\x1b]52;c;".to_vec();
    out.extend_from_slice(base64(text.as_bytes()).as_bytes());
    out.extend_from_slice(b"\x1b\\");
    out
}

/// Standard base64 with padding (RFC 4648).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")]
        {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn osc52_payload_has_no_control_bytes() {
        let seq = osc52("\x1b]52;c;evil\x07\x1b[2J 🦙");
        let payload = &seq[7..seq.len() - 2];
        assert!(payload.iter().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b)), "{seq:?}");
        assert!(seq.starts_with(b"\x1b]52;c;") && seq.ends_with(b"\x1b\\"));
    }
}
