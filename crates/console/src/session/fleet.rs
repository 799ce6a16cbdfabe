//! The fleet in the session: the nodes' latest readings and which node the chat talks to. The
//! fleet pane (F6, `panes::fleet`) chooses one. Switching is an effect (`UseEngine`) the loop
//! carries out on `tui::engine_link`; the engine's status news is tagged with the switch it
//! belongs to, so news of the engine just left is dropped.
use std::sync::Arc;

use super::{Effect, ModelState, Session};
use llamadeck_fleet::{Fleet, Health, NodeReading};
use llamadeck_gpu::GpuHistory;
use llamadeck_gpu::snapshot::{GpuDevice, GpuSnapshot, GpuStatus};

/// Samples of a remote node's GPU history (its sparklines), polled every 2 s: four minutes.
const REMOTE_HISTORY: usize = 120;

#[derive(Debug, Clone)]
pub struct FleetView {
    /// The configured nodes (and `--connect`'s), as last polled, in the config's order.
    pub nodes: Vec<NodeReading>,
    /// The model this console runs counts as the node "local" (not with `--connect`).
    pub has_local: bool,
    /// The node the chat talks to: None is the local model.
    pub target: Option<String>,
    /// Counts switches of the chat's engine; status news carries the count it belongs to.
    pub epoch: u64,
    /// A remote target's GPUs from its metrics, as the GPU panel draws them, and their history.
    pub target_gpu: Option<Arc<GpuSnapshot>>,
    pub target_history: GpuHistory,
    /// The model here as it stood when the chat turned to a node (its news is not followed
    /// meanwhile).
    pub local_model: Option<ModelState>,
}

impl Default for FleetView {
    fn default() -> Self {
        FleetView {
            nodes: Vec::new(),
            has_local: true,
            target: None,
            epoch: 0,
            target_gpu: None,
            target_history: GpuHistory::new(REMOTE_HISTORY),
            local_model: None,
        }
    }
}

impl FleetView {
    /// The nodes `names` (not polled yet), the chat talking to `target` (None: the local model).
    pub fn new(names: &[String], has_local: bool, target: Option<String>) -> Self {
        let nodes = names.iter().map(|name| NodeReading { name: name.clone(), ..NodeReading::default() }).collect();
        FleetView { nodes, has_local, target, ..FleetView::default() }
    }

    pub fn rows(&self) -> usize {
        usize::from(self.has_local) + self.nodes.len()
    }

    /// The node on `row`: None is the local model.
    pub fn node_at(&self, row: usize) -> Option<Option<&NodeReading>> {
        match (self.has_local, row) {
            (true, 0) => Some(None),
            (true, r) => self.nodes.get(r - 1).map(Some),
            (false, r) => self.nodes.get(r).map(Some),
        }
    }

    /// The target's reading, when the target is a remote node.
    pub fn target_reading(&self) -> Option<&NodeReading> {
        let name = self.target.as_deref()?;
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The row of the chat's target: the local node first when there is one, then `nodes`.
    pub fn target_row(&self) -> usize {
        let local = usize::from(self.has_local);
        match &self.target {
            None => 0,
            Some(name) => self.nodes.iter().position(|n| &n.name == name).map_or(0, |i| i + local),
        }
    }

    /// The model here: the chat's model state while it is the target, else as it was left.
    pub fn local_state<'a>(&'a self, chat: &'a ModelState) -> Option<&'a ModelState> {
        match &self.target {
            None => Some(chat),
            Some(_) => self.local_model.as_ref(),
        }
    }

    /// Nodes up, of all nodes (the local one counts when loaded).
    pub fn up_count(&self, local_up: bool) -> (usize, usize) {
        let up = self.nodes.iter().filter(|n| n.health == Health::Up).count() + usize::from(self.has_local && local_up);
        (up, self.rows())
    }
}

/// A remote node's GPUs as the GPU panel reads them. Without GPU metrics, the reason says how
/// to get them.
pub fn gpu_snapshot(node: &NodeReading) -> GpuSnapshot {
    if node.gpus.is_empty() {
        // A node of the config takes its exporter in `metrics:`; the one --connect names, with --metrics.
        let reason = format!(
            "{} publishes no GPU metrics: add its DCGM exporter (http://HOST:9400/metrics) to the node's metrics in the config, \
             or start with --connect URL --metrics http://HOST:9400/metrics",
            node.name
        );
        return GpuSnapshot { status: GpuStatus::Unavailable { reason }, ..GpuSnapshot::default() };
    }
    let devices = node
        .gpus
        .iter()
        .enumerate()
        .map(|(i, g)| GpuDevice {
            index: g.index.unwrap_or(i as u32),
            name: g.model.clone().unwrap_or_else(|| "GPU".into()),
            memory_used: g.memory_used_bytes,
            memory_total: g.memory_total_bytes,
            util_gpu: g.utilization_percent.map(|u| u.clamp(0.0, 100.0).round() as u32),
            temperature_c: g.temperature_celsius.filter(|t| *t >= 0.0).map(|t| t.round() as u32),
            power_mw: g.power_watts.filter(|p| *p >= 0.0).map(|p| (p * 1000.0).round() as u32),
            ..GpuDevice::default()
        })
        .collect();
    GpuSnapshot { status: GpuStatus::Nvml { driver: None }, devices, host: Default::default() }
}

/// New readings. A remote target's GPUs follow them; a target that comes back while its model
/// is marked failed is asked again, so the chat works without F5.
pub fn on_fleet(state: &mut Session, fleet: Arc<Fleet>) -> Vec<Effect> {
    let was_up = state.fleet.target_reading().is_some_and(|n| n.health == Health::Up);
    state.fleet.nodes = fleet.nodes.clone();
    let Some(node) = state.fleet.target_reading().cloned() else { return Vec::new() };
    let snapshot = gpu_snapshot(&node);
    state.fleet.target_history.record(&snapshot);
    state.fleet.target_gpu = Some(Arc::new(snapshot));
    if node.health == Health::Up && !was_up && matches!(state.model.state, ModelState::Failed { .. }) && !state.answering() {
        return switch(state, Some(node.name));
    }
    Vec::new()
}

/// Makes `target` the chat's engine: its status is asked afresh.
pub fn switch(state: &mut Session, target: Option<String>) -> Vec<Effect> {
    if state.fleet.target.is_none() && state.fleet.has_local {
        state.fleet.local_model = Some(state.model.state.clone());
    }
    let fleet = &mut state.fleet;
    fleet.epoch += 1;
    fleet.target = target.clone();
    fleet.target_history = GpuHistory::new(REMOTE_HISTORY);
    fleet.target_gpu = fleet.target_reading().map(|n| Arc::new(gpu_snapshot(n)));
    let stage = match &target {
        Some(name) => format!("asking {name}"),
        None => "the model here".into(),
    };
    state.model.state = ModelState::Loading { stage, since: state.now };
    state.model.unsupported.clear();
    state.model.refused = None;
    state.model.warnings.clear();
    vec![Effect::UseEngine { node: target, epoch: state.fleet.epoch }]
}

/// Whether node `name` has an API to chat with (a node only watched has metrics alone).
pub fn has_api(state: &Session, name: &str) -> bool {
    state.config.nodes.iter().find(|n| n.name.trim() == name).is_none_or(|n| n.url.is_some())
}
