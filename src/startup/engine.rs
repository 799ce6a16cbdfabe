//! The one place a backend is chosen: what to run (`Run`: a model in this process or a node's
//! server) gives its engine. The console, `serve` and `bench` all come here, so each of them runs
//! whatever `Run` names (`bench --connect` measures a node as it measures the model here).
use llamadeck_engine::{Engine, Run};

/// The engine for `run`; nothing is loaded or asked until `start`.
pub fn open(run: &Run) -> Result<Engine, String> {
    match run {
        Run::Local(_) => Ok(llamadeck_mistral::spawn()),
        Run::Node(node) => llamadeck_engine::remote::connect(node.clone()),
    }
}

/// Starts `engine` on `run`: the model here is loaded, a node is asked what it serves. The
/// outcome comes on the engine's status.
pub fn start(engine: &Engine, run: &Run) {
    match run {
        Run::Local(spec) => {
            if let Err(e) = engine.load(spec.clone()) {
                // `open` gave this engine for a local model: it loads models.
                tracing::error!("{e}");
            }
        }
        Run::Node(_) => engine.refresh(),
    }
}

/// `open` and `start` together, for callers that need nothing in between.
pub fn open_started(run: &Run) -> Result<Engine, String> {
    let engine = open(run)?;
    start(&engine, run);
    Ok(engine)
}
