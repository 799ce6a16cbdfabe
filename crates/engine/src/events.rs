//! The engine as the console's reducer sees it: commands as plain data (an `Effect` the loop
//! carries out on the engine's face) and one flat event type for loading and for every answer,
//! tagged with the request it belongs to.
use super::face::{EngineStatus, GenEvent, GenerateRequest, LoadState, PrefixCacheStats};
use super::spec::ModelSpec;
use llamadeck_words::chat::{FinishReason, GenStats, RequestId};

#[derive(Debug, Clone, PartialEq)]
pub enum EngineCommand {
    Load(ModelSpec),
    Generate(GenerateRequest),
    Cancel(RequestId),
}

#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// A loading stage, for the chat pane ("reading weights", "quantizing"...).
    LoadStage {
        stage: String,
    },
    Loaded {
        model: String,
        context_len: usize,
    },
    LoadFailed {
        reason: String,
    },
    /// Loading found something to keep in view while the model serves.
    LoadWarning {
        warning: String,
    },
    /// A new load was refused before anything was unloaded: `model` still serves.
    LoadRejected {
        reason: String,
        model: String,
        context_len: usize,
    },
    Token {
        id: RequestId,
        text: String,
    },
    Finished {
        id: RequestId,
        reason: FinishReason,
        stats: GenStats,
    },
    Failed {
        id: RequestId,
        error: String,
    },
    /// The prompt is built and queued: its tokens, and how many old messages were left out to
    /// fit the context (0 when none).
    Started {
        id: RequestId,
        prompt_tokens: usize,
        trimmed: usize,
    },
    /// Settings the engine cannot honour, so the settings pane can say so.
    Unsupported {
        id: RequestId,
        what: Vec<String>,
    },
    /// The loaded model's prefix cache changed (what it holds, its budget); `None` when the
    /// backend keeps none here. The GPU panel shows it beside the process's memory.
    Cache(Option<PrefixCacheStats>),
}

/// Turns status snapshots into events: each stage once, in order, then how the load ended.
#[derive(Debug, Default)]
pub struct StatusEvents {
    load_id: u64,
    stages_seen: usize,
    ended: bool,
    cache: Option<PrefixCacheStats>,
}

impl StatusEvents {
    /// What `status` adds to the snapshots seen before it.
    pub fn next(&mut self, status: &EngineStatus) -> Vec<EngineEvent> {
        if status.load_id != self.load_id {
            let cache = self.cache.take();
            *self = Self { load_id: status.load_id, cache, ..Self::default() };
        }
        let mut out: Vec<EngineEvent> =
            status.stages.iter().skip(self.stages_seen).map(|stage| EngineEvent::LoadStage { stage: stage.clone() }).collect();
        self.stages_seen = self.stages_seen.max(status.stages.len());
        let end = match &status.state {
            LoadState::Ready(facts) if let Some(reason) = &status.rejected => {
                Some(EngineEvent::LoadRejected { reason: reason.clone(), model: facts.name.clone(), context_len: facts.context_len })
            }
            LoadState::Ready(facts) => Some(EngineEvent::Loaded { model: facts.name.clone(), context_len: facts.context_len }),
            LoadState::Failed { reason } => Some(EngineEvent::LoadFailed { reason: reason.clone() }),
            LoadState::Idle | LoadState::Loading => None,
        };
        if let Some(end) = end.filter(|_| !self.ended) {
            self.ended = true;
            out.extend(status.warnings.iter().map(|w| EngineEvent::LoadWarning { warning: w.clone() }));
            out.push(end);
        }
        if status.cache != self.cache {
            self.cache.clone_from(&status.cache);
            out.push(EngineEvent::Cache(status.cache.clone()));
        }
        out
    }
}

impl EngineEvent {
    /// A generation's event for request `id`; `None` for what the console never asks for
    /// (log probabilities and tool calls are an API client's).
    pub fn from_generation(id: RequestId, event: GenEvent) -> Option<Self> {
        Some(match event {
            GenEvent::Unsupported(what) => EngineEvent::Unsupported { id, what },
            GenEvent::Started { prompt_tokens, trimmed } => EngineEvent::Started { id, prompt_tokens, trimmed },
            GenEvent::Token(text) => EngineEvent::Token { id, text },
            GenEvent::Logprobs(_) | GenEvent::ToolCalls(_) => return None,
            GenEvent::Finished { reason, stats } => EngineEvent::Finished { id, reason, stats },
            GenEvent::Failed(error) => EngineEvent::Failed { id, error: error.message },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::{ChatFormat, ModelFacts};

    /// The prefix cache's accounts reach the console each time they change, and only then.
    #[test]
    fn the_prefix_cache_is_forwarded_when_it_changes() {
        let mut events = StatusEvents::default();
        let mut status = EngineStatus::default();
        assert!(events.next(&status).is_empty(), "no cache, nothing to say");
        let cache = PrefixCacheStats { bytes_held: 448 << 20, budget_bytes: Some(6 << 30), ..PrefixCacheStats::default() };
        status.cache = Some(cache.clone());
        assert_eq!(events.next(&status), vec![EngineEvent::Cache(Some(cache.clone()))]);
        assert!(events.next(&status).is_empty(), "unchanged: said once");
        status.load_id = 2;
        assert!(events.next(&status).is_empty(), "a new load alone does not repeat it");
        status.cache = None;
        assert_eq!(events.next(&status), vec![EngineEvent::Cache(None)]);
    }

    #[test]
    fn every_stage_once_then_the_end_once_and_a_new_load_starts_over() {
        let mut events = StatusEvents::default();
        let mut status = EngineStatus { load_id: 1, state: LoadState::Loading, stages: vec!["a".into()], ..EngineStatus::default() };
        assert_eq!(events.next(&status), vec![EngineEvent::LoadStage { stage: "a".into() }]);
        status.stages.extend(["b".into(), "c".into()]);
        let facts = ModelFacts { name: "m".into(), context_len: 9, format: Some(ChatFormat::Llama2) };
        status.state = LoadState::Ready(facts);
        status.warnings = vec!["tight".into()];
        let stage = |s: &str| EngineEvent::LoadStage { stage: s.into() };
        let warning = EngineEvent::LoadWarning { warning: "tight".into() };
        assert_eq!(events.next(&status), vec![stage("b"), stage("c"), warning, EngineEvent::Loaded { model: "m".into(), context_len: 9 }]);
        assert!(events.next(&status).is_empty());
        let next = EngineStatus {
            load_id: 2,
            state: LoadState::Failed { reason: "r".into() },
            stages: vec!["x".into()],
            ..EngineStatus::default()
        };
        assert_eq!(events.next(&next), vec![stage("x"), EngineEvent::LoadFailed { reason: "r".into() }]);
        let facts = ModelFacts { name: "m".into(), context_len: 9, format: Some(ChatFormat::Llama2) };
        let refused =
            EngineStatus { load_id: 3, state: LoadState::Ready(facts), rejected: Some("no such file".into()), ..EngineStatus::default() };
        let rejected = EngineEvent::LoadRejected { reason: "no such file".into(), model: "m".into(), context_len: 9 };
        assert_eq!(events.next(&refused), vec![rejected]);
    }
}
