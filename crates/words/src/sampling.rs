//! Sampling settings: what the next request uses, with the range of each field.
use serde::{Deserialize, Serialize};

/// The Llama-2 system prompt from Meta's reference implementation.
pub const LLAMA2_SYSTEM_PROMPT: &str = "You are a helpful, respectful and honest assistant. Always answer as helpfully as possible, while being safe.  Your answers should not include any harmful, unethical, racist, sexist, toxic, dangerous, or illegal content. Please ensure that your responses are socially unbiased and positive in nature.\n\nIf a question does not make any sense, or is not factually coherent, explain why instead of answering something not correct. If you don't know the answer to a question, please don't share false information.";

/// Every value a request is built from. `None` means "off" for optional knobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sampling {
    pub temperature: f64,
    pub top_p: f64,
    /// 0 = off.
    pub top_k: u32,
    /// 0.0 = off.
    pub min_p: f64,
    /// 1.0 = off.
    pub repetition_penalty: f64,
    pub presence_penalty: f64,
    pub frequency_penalty: f64,
    pub max_tokens: u32,
    pub seed: Option<u64>,
    pub stop: Vec<String>,
    pub system_prompt: String,
    /// Raw completion: no chat template, the input is the whole prompt.
    pub raw_mode: bool,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            temperature: 0.6,
            top_p: 0.9,
            top_k: 0,
            min_p: 0.0,
            repetition_penalty: 1.0,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            max_tokens: 1024,
            seed: None,
            stop: Vec::new(),
            system_prompt: LLAMA2_SYSTEM_PROMPT.to_string(),
            raw_mode: false,
        }
    }
}

/// A preset overrides some sampling fields; the rest keep their current values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetValues {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
}

/// A numeric range with the step used by the settings pane's arrow keys.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: f64,
    pub step: f64,
}

/// The editable fields, in the order the settings pane lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Temperature,
    TopP,
    TopK,
    MinP,
    RepetitionPenalty,
    PresencePenalty,
    FrequencyPenalty,
    MaxTokens,
    Seed,
    Stop,
    SystemPrompt,
    RawMode,
}

impl Field {
    pub const ALL: [Field; 12] = [
        Field::Temperature,
        Field::TopP,
        Field::TopK,
        Field::MinP,
        Field::RepetitionPenalty,
        Field::PresencePenalty,
        Field::FrequencyPenalty,
        Field::MaxTokens,
        Field::Seed,
        Field::Stop,
        Field::SystemPrompt,
        Field::RawMode,
    ];

    /// The name used in the config file and on screen.
    pub fn name(self) -> &'static str {
        match self {
            Field::Temperature => "temperature",
            Field::TopP => "top_p",
            Field::TopK => "top_k",
            Field::MinP => "min_p",
            Field::RepetitionPenalty => "repetition_penalty",
            Field::PresencePenalty => "presence_penalty",
            Field::FrequencyPenalty => "frequency_penalty",
            Field::MaxTokens => "max_tokens",
            Field::Seed => "seed",
            Field::Stop => "stop",
            Field::SystemPrompt => "system_prompt",
            Field::RawMode => "raw_mode",
        }
    }

    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Numeric fields have a range; text, seed and toggles do not.
    pub fn range(self) -> Option<Range> {
        let r = |min, max, step| Some(Range { min, max, step });
        match self {
            Field::Temperature => r(0.0, 2.0, 0.05),
            Field::TopP => r(0.0, 1.0, 0.05),
            Field::TopK => r(0.0, 1000.0, 1.0),
            Field::MinP => r(0.0, 1.0, 0.01),
            Field::RepetitionPenalty => r(1.0, 2.0, 0.05),
            Field::PresencePenalty => r(-2.0, 2.0, 0.1),
            Field::FrequencyPenalty => r(-2.0, 2.0, 0.1),
            Field::MaxTokens => r(1.0, 131072.0, 64.0),
            _ => None,
        }
    }

    pub fn is_integer(self) -> bool {
        matches!(self, Field::TopK | Field::MaxTokens | Field::Seed)
    }
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
    /// The value of one field as the settings pane shows it and as the editor starts from.
    pub fn display(&self, field: Field) -> String {
        match field {
            Field::Temperature => format!("{:.2}", self.temperature),
            Field::TopP => format!("{:.2}", self.top_p),
            Field::TopK if self.top_k == 0 => "off".into(),
            Field::TopK => self.top_k.to_string(),
            Field::MinP if self.min_p == 0.0 => "off".into(),
            Field::MinP => format!("{:.2}", self.min_p),
            Field::RepetitionPenalty if self.repetition_penalty == 1.0 => "off".into(),
            Field::RepetitionPenalty => format!("{:.2}", self.repetition_penalty),
            Field::PresencePenalty => format!("{:.1}", self.presence_penalty),
            Field::FrequencyPenalty => format!("{:.1}", self.frequency_penalty),
            Field::MaxTokens => self.max_tokens.to_string(),
            Field::Seed => self.seed.map_or_else(|| "random".into(), |s| s.to_string()),
            Field::Stop if self.stop.is_empty() => "none".into(),
            Field::Stop => self.stop.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", "),
            Field::SystemPrompt => self.system_prompt.clone(),
            Field::RawMode => if self.raw_mode { "raw completion" } else { "chat template" }.into(),
        }
    }

    /// The text an editor starts from: plain values that `set_from_text` reads back.
    pub fn edit_text(&self, field: Field) -> String {
        match field {
            Field::TopK => self.top_k.to_string(),
            Field::MinP => format!("{}", self.min_p),
            Field::RepetitionPenalty => format!("{}", self.repetition_penalty),
            Field::Temperature => format!("{}", self.temperature),
            Field::TopP => format!("{}", self.top_p),
            Field::PresencePenalty => format!("{}", self.presence_penalty),
            Field::FrequencyPenalty => format!("{}", self.frequency_penalty),
            Field::Seed => self.seed.map_or_else(String::new, |s| s.to_string()),
            Field::Stop => self.stop.join("|"),
            Field::RawMode => self.raw_mode.to_string(),
            _ => self.display(field),
        }
    }

    /// Parses and range-checks `text` into `field`. On error nothing changes.
    pub fn set_from_text(&mut self, field: Field, text: &str) -> Result<(), FieldError> {
        let t = text.trim();
        let err = |message: &str| FieldError { field, message: message.to_string() };
        let number = || -> Result<f64, FieldError> {
            let v: f64 = match t {
                "off" if matches!(field, Field::TopK | Field::MinP) => 0.0,
                "off" if field == Field::RepetitionPenalty => 1.0,
                _ => t.parse().map_err(|_| err("not a number"))?,
            };
            check_range(field, v)?;
            Ok(v)
        };
        match field {
            Field::Temperature => self.temperature = number()?,
            Field::TopP => self.top_p = number()?,
            Field::TopK => self.top_k = number()? as u32,
            Field::MinP => self.min_p = number()?,
            Field::RepetitionPenalty => self.repetition_penalty = number()?,
            Field::PresencePenalty => self.presence_penalty = number()?,
            Field::FrequencyPenalty => self.frequency_penalty = number()?,
            Field::MaxTokens => self.max_tokens = number()? as u32,
            Field::Seed => {
                self.seed = match t {
                    "" | "random" => None,
                    _ => Some(t.parse().map_err(|_| err("a whole number from 0, or empty for random"))?),
                }
            }
            Field::Stop => {
                let stops: Vec<String> = text.split('|').filter(|s| !s.is_empty()).map(str::to_string).collect();
                if stops.len() > 8 {
                    return Err(err("at most 8 stop sequences"));
                }
                self.stop = stops;
            }
            Field::SystemPrompt => self.system_prompt = text.to_string(),
            Field::RawMode => {
                self.raw_mode = match t {
                    "true" | "on" | "raw" | "yes" => true,
                    "false" | "off" | "chat" | "no" => false,
                    _ => return Err(err("true or false")),
                }
            }
        }
        Ok(())
    }

    /// Moves a numeric field by `steps` of its step, clamped to its range.
    pub fn nudge(&mut self, field: Field, steps: i32) {
        if field == Field::RawMode {
            self.raw_mode = !self.raw_mode;
            return;
        }
        let Some(range) = field.range() else { return };
        let current: f64 = self.edit_text(field).parse().unwrap_or(range.min);
        let next = (current + range.step * steps as f64).clamp(range.min, range.max);
        // Round to the step's precision so 0.1 + 0.05 shows as 0.15, not 0.15000000000000002.
        let rounded = (next / range.step).round() * range.step;
        let text = format!("{:.4}", rounded.clamp(range.min, range.max));
        let _ = self.set_from_text(field, &text);
    }

    /// Checks every field; the first problem wins.
    pub fn validate(&self) -> Result<(), FieldError> {
        for field in Field::ALL {
            if field.range().is_some() {
                check_range(field, self.edit_text(field).parse().unwrap_or(f64::NAN))?;
            }
        }
        if self.stop.len() > 8 {
            return Err(FieldError { field: Field::Stop, message: "at most 8 stop sequences".into() });
        }
        Ok(())
    }

    /// Applies a preset's values on top of these.
    pub fn apply(&mut self, preset: &PresetValues) {
        macro_rules! take {
            ($($f:ident),*) => { $( if let Some(v) = preset.$f { self.$f = v; } )* };
        }
        take!(temperature, top_p, top_k, min_p, repetition_penalty, presence_penalty, frequency_penalty, max_tokens);
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
        max_tokens: None,
    };
    vec![("precise".into(), p(0.1, 0.95, 40, 1.0)), ("balanced".into(), p(0.6, 0.9, 0, 1.0)), ("creative".into(), p(1.0, 0.98, 100, 1.1))]
}
