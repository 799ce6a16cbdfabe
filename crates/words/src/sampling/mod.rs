//! Sampling settings: what the next request uses. Every field is one row of the table in
//! `fields.rs`: its config key, type and default, how it is shown, typed and stepped (its kind and
//! range), what the API reads (its name and range, when the API's differs), and whether presets
//! set it. The settings pane, the config's checks and saving, presets and the API's parsing all
//! read the row; each engine maps a field to its own name in one exhaustive `match`, so a new row
//! does not compile until every backend says what it does with it.
mod fields;
mod value;

pub use fields::{FIELDS, Field, PresetValues, Sampling};
pub use value::Value;

/// The Llama-2 system prompt from Meta's reference implementation.
pub const LLAMA2_SYSTEM_PROMPT: &str = "You are a helpful, respectful and honest assistant. Always answer as helpfully as possible, while being safe.  Your answers should not include any harmful, unethical, racist, sexist, toxic, dangerous, or illegal content. Please ensure that your responses are socially unbiased and positive in nature.\n\nIf a question does not make any sense, or is not factually coherent, explain why instead of answering something not correct. If you don't know the answer to a question, please don't share false information.";

/// A numeric range with the step used by the settings pane's arrow keys.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: f64,
    pub step: f64,
}

/// How a field's value is shown, typed, stepped and checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A number within `range`, shown with `decimals` places (0: a whole number); `off`, when
    /// set, is the value that means "off" (shown as "off", and "off" may be typed for it).
    Number { range: Range, decimals: usize, off: Option<f64> },
    /// A seed: a whole number from 0, or none for a new draw every time ("random").
    Seed,
    /// Stop sequences: at most `max` strings, typed separated by `|`.
    Stops { max: usize },
    /// Free text (the system prompt), typed in an editor of its own.
    Text { placeholder: &'static str },
    /// On or off, each shown by its word.
    Toggle { on: &'static str, off: &'static str },
}

/// What the OpenAI-compatible API does with a field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Api {
    /// Not a request field: the console's own (the system prompt is a message, raw mode an
    /// endpoint).
    No,
    /// The request field of the same name, with the row's own range.
    Same,
    /// The request field of the same name with a range of its own, and why it differs from the
    /// settings pane's (the README repeats the why).
    Range { min: f64, max: f64, min_exclusive: bool, why: &'static str },
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldRow {
    pub field: Field,
    /// The key in the config file, the settings pane's label and the API's field name.
    pub key: &'static str,
    pub kind: Kind,
    pub api: Api,
    /// Whether presets set it (the others keep their values when a preset is chosen).
    pub preset: bool,
}

/// Why a value was refused; shown inline by the settings pane and by config errors.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub field: Field,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field.name(), self.message)
    }
}

impl Field {
    pub fn row(self) -> &'static FieldRow {
        // FIELDS lists the variants in declaration order, so a variant's index is its row.
        &FIELDS[self as usize]
    }

    /// The name used in the config file, on screen and in the API.
    pub fn name(self) -> &'static str {
        self.row().key
    }

    pub fn from_name(name: &str) -> Option<Field> {
        FIELDS.iter().find(|r| r.key == name).map(|r| r.field)
    }

    /// Numeric fields have a range; text, seed and toggles do not.
    pub fn range(self) -> Option<Range> {
        match self.row().kind {
            Kind::Number { range, .. } => Some(range),
            _ => None,
        }
    }

    pub fn is_integer(self) -> bool {
        matches!(self.row().kind, Kind::Number { decimals: 0, .. } | Kind::Seed)
    }

    /// The fields presets set.
    pub fn in_presets() -> impl Iterator<Item = Field> {
        Field::ALL.into_iter().filter(|f| f.row().preset)
    }
}

/// Checks a number against a field's range.
pub fn check_range(field: Field, value: f64) -> Result<(), FieldError> {
    let Some(range) = field.range() else {
        return Ok(());
    };
    if !value.is_finite() || value < range.min || value > range.max {
        return Err(FieldError { field, message: format!("must be between {} and {}", range.min, range.max) });
    }
    if field.is_integer() && value.fract() != 0.0 {
        return Err(FieldError { field, message: "must be a whole number".into() });
    }
    Ok(())
}

impl Sampling {
    /// The value of one field as the settings pane shows it.
    pub fn display(&self, field: Field) -> String {
        self.get(field).display(field.row().kind)
    }

    /// The text an editor starts from: plain values that `set_from_text` reads back.
    pub fn edit_text(&self, field: Field) -> String {
        self.get(field).edit_text()
    }

    /// Parses and range-checks `text` into `field`. On error nothing changes.
    pub fn set_from_text(&mut self, field: Field, text: &str) -> Result<(), FieldError> {
        let value = Value::parse(field, text)?;
        self.set(field, value);
        Ok(())
    }

    /// Moves a numeric field by `steps` of its step, clamped to its range; flips a toggle.
    pub fn nudge(&mut self, field: Field, steps: i32) {
        match (field.row().kind, self.get(field)) {
            (Kind::Toggle { .. }, Value::Toggle(on)) => self.set(field, Value::Toggle(!on)),
            (Kind::Number { range, .. }, Value::Number(current)) => {
                let next = (current + range.step * steps as f64).clamp(range.min, range.max);
                // Round to the step's precision so 0.1 + 0.05 shows as 0.15, not 0.15000000000000002.
                let rounded = ((next / range.step).round() * range.step).clamp(range.min, range.max);
                let _ = self.set_from_text(field, &format!("{rounded:.4}"));
            }
            _ => {}
        }
    }

    /// Checks every field; the first problem wins.
    pub fn validate(&self) -> Result<(), FieldError> {
        Field::ALL.into_iter().try_for_each(|field| self.get(field).check(field))
    }

    /// Applies a preset's values on top of these.
    pub fn apply(&mut self, preset: &PresetValues) {
        for field in Field::in_presets() {
            if let Some(value) = preset.get(field) {
                self.set(field, value);
            }
        }
    }

    /// `field` copied from `other`.
    pub fn take(&mut self, field: Field, other: &Sampling) {
        self.set(field, other.get(field));
    }

    /// Whether `field` holds the same value here and in `other`.
    pub fn same(&self, field: Field, other: &Sampling) -> bool {
        self.get(field) == other.get(field)
    }
}

/// The built-in presets, in the order the settings pane cycles through them.
pub fn builtin_presets() -> Vec<(String, PresetValues)> {
    let p = |t: f64, top_p: f64, top_k: u32, rep: f64| PresetValues {
        temperature: Some(t),
        top_p: Some(top_p),
        top_k: Some(top_k),
        min_p: Some(0.0),
        repetition_penalty: Some(rep),
        presence_penalty: Some(0.0),
        frequency_penalty: Some(0.0),
        ..PresetValues::default()
    };
    vec![("precise".into(), p(0.1, 0.95, 40, 1.0)), ("balanced".into(), p(0.6, 0.9, 0, 1.0)), ("creative".into(), p(1.0, 0.98, 100, 1.1))]
}

/// Serde's default for `Sampling` and the settings pane's "custom" start: every row's default.
impl Default for Sampling {
    fn default() -> Self {
        Sampling::defaults()
    }
}

/// The README's table of the fields whose API range is not the settings pane's, with why (a
/// test holds the README to it).
pub fn readme_api_ranges() -> String {
    let pane = |row: &FieldRow| match row.kind {
        Kind::Number { range, .. } => format!("{}–{}", range.min, range.max),
        Kind::Stops { max } => format!("up to {max} strings"),
        _ => String::new(),
    };
    let api = |row: &FieldRow, min: f64, max: f64, exclusive: bool| match (row.kind, exclusive, max.is_finite()) {
        (Kind::Stops { .. }, _, _) => format!("up to {max} strings"),
        (_, false, true) => format!("{min}–{max}"),
        (_, true, true) => format!("over {min}, to {max}"),
        (_, false, false) => format!("{min} and more"),
        (_, true, false) => format!("over {min}"),
    };
    let mut out = String::from("| field | settings pane | API | why |\n|-------|---------------|-----|-----|\n");
    for row in FIELDS {
        if let Api::Range { min, max, min_exclusive, why } = row.api {
            out.push_str(&format!("| `{}` | {} | {} | {} |\n", row.key, pane(row), api(row, min, max, min_exclusive), why));
        }
    }
    out
}
