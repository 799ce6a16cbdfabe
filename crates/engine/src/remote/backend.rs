//! A remote engine behind the engine's face. `refresh` asks the node what it serves (and keeps
//! asking, once a second, while the node says it is still loading); it loads no model of ours
//! (the node has its own), so it has no `loader`; `generate` streams one
//! answer on its own task. Nothing here blocks the caller: every request runs on the tokio
//! runtime the backend was made in (or a small one of its own).
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::watch;

use super::node::NodeSpec;
use super::probe::{Probe, Served, probe};
use crate::face::{Backend, EngineStatus, GenError, GenErrorKind, GenEvent, GenerateRequest, GenerationSink, LoadState};

/// How often a node that is still loading its model is asked again.
const LOADING_POLL: Duration = Duration::from_secs(1);

pub struct RemoteBackend {
    shared: Arc<Shared>,
    runtime: Handle,
}

struct Shared {
    node: NodeSpec,
    client: reqwest::Client,
    status: watch::Sender<EngineStatus>,
    served: Mutex<Option<Served>>,
}

impl RemoteBackend {
    pub fn new(node: NodeSpec) -> Result<RemoteBackend, String> {
        let client = super::http::client_builder(node.timeout)
            .build()
            .map_err(|e| format!("cannot set up HTTP for {}: {}", node.name, super::errors::innermost(&e)))?;
        let (status, _) = watch::channel(EngineStatus::default());
        let shared = Arc::new(Shared { node, client, status, served: Mutex::new(None) });
        Ok(RemoteBackend { shared, runtime: runtime() })
    }
}

/// The runtime the caller runs in, else one kept for remote engines made outside any.
fn runtime() -> Handle {
    static OWN: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    Handle::try_current().unwrap_or_else(|_| {
        OWN.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("llamadeck-remote")
                .enable_all()
                .build()
                .expect("a tokio runtime for remote engines")
        })
        .handle()
        .clone()
    })
}

impl Shared {
    fn served(&self) -> Option<Served> {
        self.served.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A new load: its id, with `stage` as its first stage.
    fn begin(&self, stage: String) -> u64 {
        let mut load_id = 0;
        self.status.send_modify(|status| {
            load_id = status.load_id + 1;
            *status = EngineStatus { load_id, state: LoadState::Loading, stages: vec![stage], ..EngineStatus::default() };
        });
        load_id
    }

    /// Records what load `load_id` found, unless a newer load started meanwhile.
    fn settle(&self, load_id: u64, probe: &Probe) -> bool {
        let mut current = true;
        self.status.send_if_modified(|status| {
            current = status.load_id == load_id;
            if !current {
                return false;
            }
            let (state, stage) = match probe {
                Probe::Ready(served) => (LoadState::Ready(served.facts.clone()), None),
                Probe::Loading(why) => (LoadState::Loading, Some(why)),
                Probe::Failed(why) => (LoadState::Failed { reason: why.clone() }, None),
            };
            let new_stage = stage.filter(|s| status.stages.last() != Some(*s)).cloned();
            let changed = status.state != state || new_stage.is_some();
            status.stages.extend(new_stage);
            status.state = state;
            changed
        });
        if current {
            let served = match probe {
                Probe::Ready(served) => Some(served.clone()),
                _ => None,
            };
            *self.served.lock().unwrap_or_else(|e| e.into_inner()) = served;
        }
        current
    }

    fn asking(&self) -> String {
        format!("asking {} ({}) what it serves", self.node.name, self.node.address())
    }

    /// Asks the node until it serves a model, fails, or a newer load takes over.
    async fn load(self: Arc<Self>, load_id: u64) {
        loop {
            let found = probe(&self.client, &self.node).await;
            if !self.settle(load_id, &found) || !matches!(found, Probe::Loading(_)) {
                return;
            }
            tokio::time::sleep(LOADING_POLL).await;
        }
    }
}

impl Backend for RemoteBackend {
    /// Asks the node what it serves, again.
    fn refresh(&self) {
        let load_id = self.shared.begin(self.shared.asking());
        self.runtime.spawn(self.shared.clone().load(load_id));
    }

    fn status(&self) -> watch::Receiver<EngineStatus> {
        self.shared.status.subscribe()
    }

    /// Streams one answer. A node that was not serving when last asked is asked again first, so
    /// a node that came back answers without a reload.
    fn generate(&self, request: GenerateRequest, sink: GenerationSink) {
        let shared = self.shared.clone();
        self.runtime.spawn(async move {
            let served = match shared.served() {
                Some(served) => served,
                None => match probe(&shared.client, &shared.node).await {
                    // Told as a new load, so whoever watches the status hears that it serves again.
                    Probe::Ready(served) => {
                        let load_id = shared.begin(shared.asking());
                        shared.settle(load_id, &Probe::Ready(served.clone()));
                        served
                    }
                    Probe::Loading(why) | Probe::Failed(why) => {
                        return sink.send(GenEvent::Failed(GenError::new(GenErrorKind::NotReady, format!("{}: {why}", shared.node.name))));
                    }
                },
            };
            super::stream::run(shared.client.clone(), &shared.node, served, request, sink).await;
        });
    }
}
