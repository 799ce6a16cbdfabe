//! Presets and where the sampling values come from: the preset last applied and whether a value
//! was changed by hand since, your own values ("custom"), the values the file holds, and what F5
//! and Ctrl+S do to them. The settings pane (`panes::settings`) steps and types the values.
use super::{NoticeLevel, Session};
use llamadeck_config::Config;
use llamadeck_words::sampling::{Field, PresetValues, Sampling, builtin_presets};

#[derive(Debug, Clone)]
pub struct Presets {
    /// The built-in presets, then the config's own (one of the same name replaces the built-in).
    pub list: Vec<(String, PresetValues)>,
    /// The preset last applied, and whether a value was changed by hand since.
    pub applied: Option<String>,
    pub modified: bool,
    /// Your own values: what "custom" in the preset row brings back (the config's values until
    /// you change one).
    pub custom: Sampling,
    /// The values the settings pane held when it last agreed with the file: F5 keeps what was
    /// changed since, and takes the file's values for the rest.
    pub origin: Sampling,
}

impl Presets {
    pub fn new(config: &Config) -> Self {
        let mut list = builtin_presets();
        for (name, values) in &config.presets {
            list.retain(|(n, _)| n != name);
            list.push((name.clone(), values.clone()));
        }
        // No `preset:` named: the values may still be exactly a preset's, and then it is shown.
        let applied = config.preset.clone().or_else(|| matching(&list, &config.sampling));
        Presets { list, applied, modified: false, custom: config.sampling.clone(), origin: Sampling::default() }
    }

    pub fn with_origin(self, origin: Sampling) -> Self {
        Presets { origin, ..self }
    }

    /// The values the settings pane starts from: `sampling:` with the `preset:` applied.
    pub fn starting_sampling(&self, config: &Config) -> Sampling {
        let mut sampling = config.sampling.clone();
        if let Some(name) = &config.preset
            && let Some((_, values)) = self.list.iter().find(|(n, _)| n == name)
        {
            sampling.apply(values);
        }
        sampling
    }

    /// The preset Ctrl+S writes: none when the values were changed by hand since.
    pub fn current(&self) -> Option<String> {
        self.applied.clone().filter(|_| !self.modified)
    }
}

/// The first preset that choosing would leave `sampling` exactly as it is.
fn matching(list: &[(String, PresetValues)], sampling: &Sampling) -> Option<String> {
    list.iter()
        .find(|(_, values)| {
            let mut probe = sampling.clone();
            probe.apply(values);
            probe == *sampling
        })
        .map(|(name, _)| name.clone())
}

/// A value was changed by hand: the preset shows as modified, and these are now your own values.
pub fn changed_by_hand(session: &mut Session) {
    session.presets.modified = true;
    session.presets.custom = session.sampling.clone();
}

/// Ctrl+P: the next preset, then "custom", then the first again.
pub fn next_preset(session: &mut Session) -> Vec<super::Effect> {
    step_preset(session, 1);
    match session.presets.applied.clone() {
        Some(name) => session.notice(NoticeLevel::Info, format!("preset {name} applied")),
        None => session.notice(NoticeLevel::Info, "custom: your own values again"),
    }
}

/// Moves along [custom, presets...] by `delta`, wrapping around.
pub fn step_preset(session: &mut Session, delta: isize) {
    let presets = &mut session.presets;
    let n = presets.list.len() as isize + 1;
    // Slot 0 is custom; a modified preset counts as custom, so the next step is its neighbour.
    let at = presets.applied.as_ref().and_then(|p| presets.list.iter().position(|(name, _)| name == p)).map_or(0, |i| i as isize + 1);
    let next = (at + delta).rem_euclid(n) as usize;
    if presets.applied.is_none() || presets.modified {
        presets.custom = session.sampling.clone();
    }
    match next.checked_sub(1) {
        None => {
            session.sampling = presets.custom.clone();
            presets.applied = None;
        }
        Some(i) => {
            let (name, values) = presets.list[i].clone();
            session.sampling = with_preset_fields_from(&session.sampling, &session.config.sampling);
            session.sampling.apply(&values);
            presets.applied = Some(name);
        }
    }
    presets.modified = false;
}

/// `current` with every field a preset can name taken from `base` (the config's values), so a
/// preset that leaves a field out gets the same value each time.
fn with_preset_fields_from(current: &Sampling, base: &Sampling) -> Sampling {
    let mut out = current.clone();
    for field in Field::in_presets() {
        out.take(field, base);
    }
    out
}

/// F5 read `config` again: its values replace the pane's, except where the pane was changed
/// since it last agreed with the file (those are kept, unsaved). Returns the names kept.
pub fn take_from_file(session: &mut Session, config: &Config) -> Vec<&'static str> {
    let fresh = Presets::new(config);
    let from_file = fresh.starting_sampling(config);
    let mut kept = Vec::new();
    let mut merged = from_file.clone();
    for field in Field::ALL {
        if !session.sampling.same(field, &session.presets.origin) && !session.sampling.same(field, &from_file) {
            merged.take(field, &session.sampling);
            kept.push(field.name());
        }
    }
    let custom = if kept.is_empty() { config.sampling.clone() } else { merged.clone() };
    session.presets = Presets { modified: !kept.is_empty(), custom, origin: from_file, ..fresh };
    session.sampling = merged;
    kept
}

/// Ctrl+S wrote these values and this preset: the file and the pane agree again.
pub fn saved(session: &mut Session, sampling: Sampling, preset: Option<String>) {
    session.presets.origin = sampling.clone();
    session.config.sampling = sampling;
    session.config.preset = preset;
}
