//! Polling one node: its OpenAI API says whether it is up and what it serves (the same question
//! the remote engine asks), each metrics URL gives engine counters or GPU readings. All of them
//! are asked at once, each within the node's timeout, so a poll takes at most that long.
use std::time::{Duration, Instant};

use super::reading::{Health, NodeReading};
use llamadeck_engine::remote::errors::{innermost, no_answer, redirect, why};
use llamadeck_engine::remote::http;
use llamadeck_engine::remote::probe::{Probe, Served, probe};
use llamadeck_engine::remote::{ApiKey, NodeSpec};
use llamadeck_words::prom::{self, Snapshot, TokenRates};

/// What to poll for one node.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub name: String,
    /// Its OpenAI API; None for a node known only by its metrics (a DCGM exporter alone).
    pub api: Option<NodeSpec>,
    /// Prometheus endpoints: the engine's `/metrics`, a DCGM exporter's `:9400/metrics`.
    pub metrics: Vec<String>,
    pub timeout: Duration,
}

impl Target {
    pub fn waiting(&self) -> NodeReading {
        NodeReading { name: self.name.clone(), address: self.address(), ..NodeReading::default() }
    }

    fn address(&self) -> String {
        match (&self.api, self.metrics.first()) {
            (Some(api), _) => api.address().to_string(),
            (None, Some(url)) => url.split_once("://").map_or(url.as_str(), |(_, rest)| rest).split('/').next().unwrap_or("").to_string(),
            (None, None) => String::new(),
        }
    }
}

/// The most of one scrape that is read (what `prom` reads at most).
const MAX_SCRAPE: usize = prom::parse::MAX_BYTES;

/// One node's poller: its HTTP connections, and the last engine counters for the rates.
pub struct Poller {
    target: Target,
    /// Or why none could be made (then every poll says so, rather than use other settings).
    client: Result<reqwest::Client, String>,
    last: Option<(Instant, Snapshot)>,
    /// What the node served when last asked.
    known: Option<Served>,
}

impl Poller {
    pub fn new(target: Target) -> Poller {
        // The remote engine's settings (a redirect is an error, never followed), whole polls timed.
        let client = http::client_builder(target.timeout)
            .timeout(target.timeout)
            .pool_max_idle_per_host(2)
            .build()
            .map_err(|e| format!("cannot set up HTTP: {}", innermost(&e)));
        Poller { target, client, last: None, known: None }
    }

    pub async fn poll(&mut self) -> NodeReading {
        let client = match &self.client {
            Ok(client) => client,
            Err(why) => return NodeReading { health: Health::Down(why.clone()), ..self.target.waiting() },
        };
        let api = async {
            match (&self.target.api, &self.known) {
                (Some(node), Some(served)) if served.interrupted_by_questions() => Some(alive(client, node, served).await),
                (Some(node), _) => Some(probe(client, node).await),
                (None, _) => None,
            }
        };
        let scrapes = futures::future::join_all(self.target.metrics.iter().map(|url| {
            let key = self.target.api.as_ref().filter(|api| same_server(api.root(), url)).and_then(|api| api.api_key.as_ref());
            scrape(client, url, key, self.target.timeout)
        }));
        let (api, scrapes) = futures::join!(api, scrapes);
        let now = Instant::now();
        let mut reading = self.target.waiting();
        let mut merged = Snapshot::default();
        let mut scraped = 0;
        for (url, result) in self.target.metrics.iter().zip(scrapes) {
            match result {
                Ok(snapshot) => {
                    scraped += 1;
                    merged.merge(snapshot);
                }
                Err(why) => reading.problems.push(format!("{url}: {why}")),
            }
        }
        self.known = match &api {
            Some(Probe::Ready(served)) => Some(served.clone()),
            _ => None,
        };
        reading.health = match api {
            Some(Probe::Ready(served)) => {
                reading.model = Some(served.facts.name);
                reading.context_len = served.facts.context_len;
                Health::Up
            }
            Some(Probe::Loading(why)) => Health::Loading(why),
            Some(Probe::Failed(why)) => Health::Down(why),
            None if scraped > 0 => Health::Up,
            None => Health::Down(reading.problems.first().cloned().unwrap_or_else(|| "nothing to poll".into())),
        };
        if merged.engine.is_some() {
            if let Some((then, before)) = &self.last {
                reading.rates = prom::token_rates(before, &merged, now.duration_since(*then).as_secs_f64());
            }
            self.last = Some((now, Snapshot { engine: merged.engine.clone(), ..Snapshot::default() }));
        } else {
            self.last = None;
            reading.rates = TokenRates::default();
        }
        reading.engine = merged.engine;
        reading.gpus = merged.gpus;
        reading.gpus_dropped = merged.gpus_dropped;
        reading
    }
}

/// A node whose model list must not be asked while it answers: any HTTP answer at its root
/// says it is up (llama-cpp-python answers 404 there without touching the model).
async fn alive(client: &reqwest::Client, node: &NodeSpec, served: &Served) -> Probe {
    match client.get(format!("{}/health", node.root())).send().await {
        Ok(_) => Probe::Ready(served.clone()),
        Err(e) => Probe::Failed(no_answer(node.address(), &e, node.timeout)),
    }
}

/// Whether `url` is on the server at `root` (same scheme, host and port): its key goes there
/// too (llamadeck asks for it on /metrics), never to another server.
fn same_server(root: &str, url: &str) -> bool {
    match (reqwest::Url::parse(root), reqwest::Url::parse(url)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// One metrics URL, read and mapped; or why it gave nothing.
async fn scrape(client: &reqwest::Client, url: &str, key: Option<&ApiKey>, timeout: Duration) -> Result<Snapshot, String> {
    let address = url.split_once("://").map_or(url, |(_, rest)| rest).split('/').next().unwrap_or(url);
    let no_answer = |e: reqwest::Error| {
        if e.is_timeout() {
            format!("no answer within {} ms", timeout.as_millis())
        } else {
            format!("cannot read it from {address}: {}", why(&e))
        }
    };
    let mut request = client.get(url);
    if let Some(key) = key {
        request = request.header(reqwest::header::AUTHORIZATION, key.header());
    }
    let mut response = request.send().await.map_err(no_answer)?;
    if let Some(redirect) = redirect(response.status(), response.headers()) {
        return Err(redirect);
    }
    let status = response.status().as_u16();
    if status != 200 {
        return Err(format!("answered {status}"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(no_answer)? {
        body.extend_from_slice(&chunk);
        if body.len() >= MAX_SCRAPE {
            break;
        }
    }
    let scrape = prom::parse_bytes(&body);
    if scrape.samples.is_empty() {
        return Err(if scrape.skipped > 0 || !body.is_empty() {
            format!("not Prometheus metrics ({} lines unreadable)", scrape.skipped)
        } else {
            "no metrics".into()
        });
    }
    Ok(prom::snapshot(&scrape))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain-HTTP server on port 0 that answers anything with a 400.
    fn plain_http_server() -> std::net::SocketAddr {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let _ = stream.read(&mut [0; 4096]);
                let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
        });
        addr
    }

    #[tokio::test]
    async fn https_against_an_http_server_asks_whether_it_is_http() {
        let addr = plain_http_server();
        let api = NodeSpec::new("a", &format!("https://{addr}/v1")).unwrap();
        let metrics = vec![format!("https://{addr}/metrics")];
        let mut poller = Poller::new(Target { name: "a".into(), api: Some(api), metrics, timeout: Duration::from_secs(5) });
        let reading = poller.poll().await;
        match &reading.health {
            Health::Down(why) => assert!(why.contains("is it http? (TLS handshake failed: "), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(reading.problems[0].contains(&format!("cannot read it from {addr}: is it http? (TLS")), "{:?}", reading.problems);
    }
}
