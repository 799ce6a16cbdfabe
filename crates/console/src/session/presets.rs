//! Presets and where the sampling values come from: the preset last applied and whether a value
//! was changed by hand since, your own values ("custom"), the values the file holds, and what F5
//! and Ctrl+S do to them. The settings pane (`panes::settings`) steps and types the values.
use super::{NoticeLevel, Session};
use llamadeck_config::Config;
use llamadeck_words::sampling::{Field, PresetValues, Sampling, builtin_presets};

/// The fields a preset can name; the rest (seed, stop, system prompt, raw mode) are never
/// changed by choosing a preset.
const PRESET_FIELDS: [Field; 8] = [
    Field::Temperature,
    Field::TopP,
    Field::TopK,
    Field::MinP,
    Field::RepetitionPenalty,
    Field::PresencePenalty,
    Field::FrequencyPenalty,
    Field::MaxTokens,
];

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
    for field in PRESET_FIELDS {
        copy_field(&mut out, base, field);
    }
    out
}

fn copy_field(to: &mut Sampling, from: &Sampling, field: Field) {
    match field {
        Field::Temperature => to.temperature = from.temperature,
        Field::TopP => to.top_p = from.top_p,
        Field::TopK => to.top_k = from.top_k,
        Field::MinP => to.min_p = from.min_p,
        Field::RepetitionPenalty => to.repetition_penalty = from.repetition_penalty,
        Field::PresencePenalty => to.presence_penalty = from.presence_penalty,
        Field::FrequencyPenalty => to.frequency_penalty = from.frequency_penalty,
        Field::MaxTokens => to.max_tokens = from.max_tokens,
        Field::Seed => to.seed = from.seed,
        Field::Stop => to.stop.clone_from(&from.stop),
        Field::SystemPrompt => to.system_prompt.clone_from(&from.system_prompt),
        Field::RawMode => to.raw_mode = from.raw_mode,
    }
}

fn same_field(a: &Sampling, b: &Sampling, field: Field) -> bool {
    let mut probe = a.clone();
    copy_field(&mut probe, b, field);
    probe == *a
}

/// F5 read `config` again: its values replace the pane's, except where the pane was changed
/// since it last agreed with the file (those are kept, unsaved). Returns the names kept.
pub fn take_from_file(session: &mut Session, config: &Config) -> Vec<&'static str> {
    let fresh = Presets::new(config);
    let from_file = fresh.starting_sampling(config);
    let mut kept = Vec::new();
    let mut merged = from_file.clone();
    for field in Field::ALL {
        if !same_field(&session.sampling, &session.presets.origin, field) && !same_field(&session.sampling, &from_file, field) {
            copy_field(&mut merged, &session.sampling, field);
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
