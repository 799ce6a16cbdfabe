//! The table: one row per sampling field. A row makes the field of `Sampling` (with its type and
//! default), the `Field` variant, its entry in `FIELDS` (kind and range, what the API reads,
//! whether presets set it) and, for the fields presets set, the field of `PresetValues`.
use serde::{Deserialize, Serialize};

use super::value::FieldValue;
use super::{Api, FieldRow, Kind, LLAMA2_SYSTEM_PROMPT, Range, Value};

const fn number(min: f64, max: f64, step: f64, decimals: usize) -> Kind {
    Kind::Number { range: Range { min, max, step }, decimals, off: None }
}

const fn number_off(min: f64, max: f64, step: f64, decimals: usize, off: f64) -> Kind {
    Kind::Number { range: Range { min, max, step }, decimals, off: Some(off) }
}

macro_rules! sampling_fields {
    (
        presets set: { $( $(#[$pm:meta])* $pv:ident $pf:ident: $pt:ty = $pd:expr, $pk:expr, $pa:expr; )* }
        presets leave: { $( $(#[$om:meta])* $ov:ident $of:ident: $ot:ty = $od:expr, $ok:expr, $oa:expr; )* }
    ) => {
        /// The editable fields, in the order the settings pane lists them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Field {
            $( $(#[$pm])* $pv, )*
            $( $(#[$om])* $ov, )*
        }

        /// Every row, in `Field`'s order.
        pub const FIELDS: &[FieldRow] = &[
            $( $(#[$pm])* FieldRow { field: Field::$pv, key: stringify!($pf), kind: $pk, api: $pa, preset: true }, )*
            $( $(#[$om])* FieldRow { field: Field::$ov, key: stringify!($of), kind: $ok, api: $oa, preset: false }, )*
        ];

        const COUNT: usize = [$( $(#[$pm])* Field::$pv, )* $( $(#[$om])* Field::$ov, )*].len();

        impl Field {
            pub const ALL: [Field; COUNT] = [$( $(#[$pm])* Field::$pv, )* $( $(#[$om])* Field::$ov, )*];
        }

        /// Every value a request is built from.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct Sampling {
            $( $(#[$pm])* pub $pf: $pt, )*
            $( $(#[$om])* pub $of: $ot, )*
        }

        impl Sampling {
            /// Every row's default.
            pub fn defaults() -> Self {
                Sampling { $( $(#[$pm])* $pf: $pd, )* $( $(#[$om])* $of: $od, )* }
            }

            /// One field's value.
            pub fn get(&self, field: Field) -> Value {
                match field {
                    $( $(#[$pm])* Field::$pv => self.$pf.to_value(), )*
                    $( $(#[$om])* Field::$ov => self.$of.to_value(), )*
                }
            }

            /// Sets one field; a value of another kind than the field's changes nothing.
            pub fn set(&mut self, field: Field, value: Value) {
                match field {
                    $( $(#[$pm])* Field::$pv => { if let Some(v) = FieldValue::from_value(value) { self.$pf = v; } } )*
                    $( $(#[$om])* Field::$ov => { if let Some(v) = FieldValue::from_value(value) { self.$of = v; } } )*
                }
            }
        }

        /// A preset: values for some of the fields presets set; the rest keep their values.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct PresetValues {
            $( $(#[$pm])* #[serde(default, skip_serializing_if = "Option::is_none")] pub $pf: Option<$pt>, )*
        }

        impl PresetValues {
            /// The preset's value for `field`, if it sets one.
            pub fn get(&self, field: Field) -> Option<Value> {
                match field {
                    $( $(#[$pm])* Field::$pv => self.$pf.as_ref().map(FieldValue::to_value), )*
                    _ => None,
                }
            }
        }
    };
}

sampling_fields! {
    presets set: {
        Temperature temperature: f64 = 0.6, number(0.0, 2.0, 0.05, 2), Api::Same;
        TopP top_p: f64 = 0.9, number(0.0, 1.0, 0.05, 2), Api::Range {
            min: 0.0,
            max: 1.0,
            min_exclusive: true,
            why: "OpenAI clients read top_p 0 as the likeliest token only; here 0 turns the filter off",
        };
        TopK top_k: u32 = 0, number_off(0.0, 100_000.0, 1.0, 0, 0.0), Api::Same;
        MinP min_p: f64 = 0.0, number_off(0.0, 1.0, 0.01, 2, 0.0), Api::Same;
        RepetitionPenalty repetition_penalty: f64 = 1.0, number_off(1.0, 2.0, 0.05, 2, 1.0), Api::Range {
            min: 0.01,
            max: 10.0,
            min_exclusive: false,
            why: "servers such as vLLM take any positive penalty (below 1 favours repetition); the settings pane keeps \
                  the range that helps, so its arrows never cross into it",
        };
        PresencePenalty presence_penalty: f64 = 0.0, number(-2.0, 2.0, 0.1, 1), Api::Same;
        FrequencyPenalty frequency_penalty: f64 = 0.0, number(-2.0, 2.0, 0.1, 1), Api::Same;
        MaxTokens max_tokens: u32 = 1024, number(1.0, 131_072.0, 64.0, 0), Api::Range {
            min: 1.0,
            max: f64::INFINITY,
            min_exclusive: false,
            why: "a client may ask for more than the context holds: server.max_tokens and the context cut the answer, \
                  the usage says what it got",
        };
        // A field for the tests of the table itself (crates/fieldcheck), never in a build of the binary.
        #[cfg(feature = "example-field")]
        Example example: f64 = 0.5, number(0.0, 1.0, 0.1, 1), Api::Same;
    }
    presets leave: {
        Seed seed: Option<u64> = None, Kind::Seed, Api::Same;
        Stop stop: Vec<String> = Vec::new(), Kind::Stops { max: 8 }, Api::Range {
            min: 0.0,
            max: 16.0,
            min_exclusive: false,
            why: "OpenAI allows 4 stop strings and some clients send more; the settings pane keeps 8 on one line",
        };
        SystemPrompt system_prompt: String = LLAMA2_SYSTEM_PROMPT.to_string(), Kind::Text { placeholder: "empty: no system prompt" }, Api::No;
        RawMode raw_mode: bool = false, Kind::Toggle { on: "raw completion", off: "chat template" }, Api::No;
    }
}
