//! Tool calls on any model. The in-process engine does not count on a chat template knowing
//! tools (the demo model's and Llama-2's do not): when a request has tools, the system prompt
//! lists them and says how to call them, the answer is held to a JSON Schema that is either a
//! call or an answer (only a call under `required` or a named tool), and the finished answer is
//! read back as calls or as text. Earlier tool turns of the conversation are written the same
//! way, so the model sees its own calls and their results in the shape it was told to use.
use llamadeck_engine::face::{AnswerOptions, ToolChoice, ToolSpec};
use llamadeck_words::chat::{ChatMessage, Role, ToolCall, ToolTurn};
use serde_json::{Value, json};

use super::sampler::Rng;

/// The most calls one answer may make (a small model could otherwise repeat calls until its
/// length runs out).
pub const MAX_CALLS: usize = 8;

/// True when the conversation or the request involves tools, so the conversation must be
/// written as `plain_conversation` does.
pub fn involved(messages: &[ChatMessage], options: &AnswerOptions) -> bool {
    options.tools_on() || messages.iter().any(|m| m.tool.is_some())
}

/// The conversation as plain messages any template renders: tool turns written as JSON text,
/// a tool's results (and what the user says after them) joined into one message on the user's
/// side, and, when tools are on, the instructions added to the system prompt.
pub fn plain_conversation(messages: &[ChatMessage], options: &AnswerOptions) -> Vec<ChatMessage> {
    let on = options.tools_on();
    let mut out: Vec<ChatMessage> = Vec::with_capacity(messages.len() + 1);
    if on {
        let instructions = instructions(options);
        match messages.first() {
            Some(m) if m.role == Role::System => out.push(ChatMessage::new(Role::System, format!("{}\n\n{instructions}", m.content))),
            _ => out.push(ChatMessage::new(Role::System, instructions)),
        }
    }
    let skip = usize::from(on && messages.first().is_some_and(|m| m.role == Role::System));
    for m in &messages[skip..] {
        let content = match (&m.tool, m.role) {
            (Some(ToolTurn::Calls(calls)), _) => calls_json(calls).to_string(),
            (Some(ToolTurn::Result { call_id }), _) => {
                let name = name_of(messages, call_id);
                json!({"tool_result": {"tool_call_id": call_id, "name": name, "content": m.content}}).to_string()
            }
            // Earlier answers in the shape the model is told to answer in.
            (None, Role::Assistant) if on => json!({"response": m.content}).to_string(),
            (None, _) => m.content.clone(),
        };
        let user_side = m.role == Role::User;
        match out.last_mut() {
            Some(last) if user_side && last.role == Role::User => {
                last.content.push('\n');
                last.content.push_str(&content);
            }
            _ => out.push(ChatMessage::new(m.role, content)),
        }
    }
    out
}

/// The function an earlier call of `call_id` named.
fn name_of<'a>(messages: &'a [ChatMessage], call_id: &str) -> Option<&'a str> {
    messages.iter().find_map(|m| match &m.tool {
        Some(ToolTurn::Calls(calls)) => calls.iter().find(|c| c.id == call_id).map(|c| c.name.as_str()),
        _ => None,
    })
}

/// Calls as the model is told to write them; arguments that are not JSON stay text.
fn calls_json(calls: &[ToolCall]) -> Value {
    let calls: Vec<Value> = calls
        .iter()
        .map(|c| {
            let arguments = serde_json::from_str::<Value>(&c.arguments).unwrap_or_else(|_| Value::String(c.arguments.clone()));
            json!({"name": c.name, "arguments": arguments})
        })
        .collect();
    json!({"tool_calls": calls})
}

/// What the system prompt says about the tools.
fn instructions(options: &AnswerOptions) -> String {
    let listed: Vec<Value> =
        options.tools.iter().map(|t| json!({"name": t.name, "description": t.description, "parameters": t.parameters})).collect();
    let listed = serde_json::to_string_pretty(&listed).unwrap_or_default();
    let call = r#"{"tool_calls": [{"name": "<function name>", "arguments": {<its arguments>}}]}"#;
    let how = match &options.tool_choice {
        ToolChoice::Named(name) => format!(r#"Call the function "{name}": answer with {call} only."#),
        ToolChoice::Required => format!("Call at least one function: answer with {call} only."),
        ToolChoice::Auto | ToolChoice::None => {
            format!(r#"To call functions, answer with {call}. To answer without calling one, answer with {{"response": "<your answer>"}}."#)
        }
    };
    format!(
        "You can call these functions (each one's arguments as a JSON Schema):\n{listed}\n\nAnswer with JSON only. {how} \
         A function's result comes back to you as {{\"tool_result\": ...}}."
    )
}

/// The JSON Schema an answer keeps to when tools are on: a call of the chosen tools, or (as the
/// model sees fit) an answer in words.
pub fn answer_schema(options: &AnswerOptions) -> Option<Value> {
    if !options.tools_on() {
        return None;
    }
    let chosen: Vec<&ToolSpec> = match &options.tool_choice {
        ToolChoice::Named(name) => options.tools.iter().filter(|t| &t.name == name).collect(),
        _ => options.tools.iter().collect(),
    };
    let most = if matches!(options.tool_choice, ToolChoice::Named(_)) { 1 } else { MAX_CALLS };
    let each: Vec<Value> = chosen.into_iter().map(call_schema).collect();
    let calls = json!({
        "type": "object",
        "properties": {"tool_calls": {"type": "array", "minItems": 1, "maxItems": most, "items": {"anyOf": each}}},
        "required": ["tool_calls"],
        "additionalProperties": false,
    });
    Some(match options.tool_choice {
        ToolChoice::Auto => json!({"anyOf": [calls, {
            "type": "object",
            "properties": {"response": {"type": "string"}},
            "required": ["response"],
            "additionalProperties": false,
        }]}),
        _ => calls,
    })
}

fn call_schema(tool: &ToolSpec) -> Value {
    let mut parameters = if tool.parameters.is_object() { tool.parameters.clone() } else { json!({"type": "object"}) };
    closed(&mut parameters);
    json!({
        "type": "object",
        "properties": {"name": {"const": tool.name}, "arguments": parameters},
        "required": ["name", "arguments"],
        "additionalProperties": false,
    })
}

/// Holds every object of `schema` that lists its properties to those properties, unless it
/// says otherwise (`additionalProperties`), as OpenAI's strict mode reads a tool's parameters:
/// left open, a small model goes on adding properties until its length runs out.
fn closed(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            if object.get("properties").is_some_and(Value::is_object) && !object.contains_key("additionalProperties") {
                object.insert("additionalProperties".into(), Value::Bool(false));
            }
            for (key, value) in object.iter_mut() {
                match key.as_str() {
                    "properties" | "$defs" | "definitions" | "patternProperties" => {
                        if let Value::Object(children) = value {
                            children.values_mut().for_each(closed);
                        }
                    }
                    "items" | "anyOf" | "oneOf" | "allOf" | "prefixItems" | "additionalProperties" | "not" => closed(value),
                    _ => {}
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(closed),
        _ => {}
    }
}

/// What a finished answer with tools on says.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    Calls(Vec<ToolCall>),
    Text(String),
}

/// Reads a finished answer written under `answer_schema`. An answer cut short by its length is
/// unfinished JSON: the text of a cut `response` is kept, anything else is given as it is.
pub fn read_answer(text: &str) -> Reading {
    let parsed = serde_json::from_str::<Value>(text).or_else(|_| serde_json::from_str::<Value>(&format!("{text}\"}}")));
    let Ok(value) = parsed else { return Reading::Text(text.to_string()) };
    if let Some(calls) = value.get("tool_calls").and_then(Value::as_array) {
        let mut rng = Rng::random();
        let calls: Vec<ToolCall> = calls
            .iter()
            .filter_map(|c| {
                let name = c.get("name")?.as_str()?.to_string();
                let arguments = c.get("arguments").map_or_else(|| "{}".to_string(), Value::to_string);
                Some(ToolCall { id: format!("call_{:016x}", rng.next_u64()), name, arguments })
            })
            .collect();
        if !calls.is_empty() {
            return Reading::Calls(calls);
        }
    }
    match value.get("response").and_then(Value::as_str) {
        Some(response) => Reading::Text(response.to_string()),
        None => Reading::Text(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weather() -> ToolSpec {
        ToolSpec {
            name: "get_weather".into(),
            description: "The weather in a city.".into(),
            parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
        }
    }

    fn options(choice: ToolChoice) -> AnswerOptions {
        AnswerOptions { tools: vec![weather()], tool_choice: choice, ..AnswerOptions::default() }
    }

    #[test]
    fn tool_turns_are_written_as_the_model_is_told_to_write_them() {
        let call = ToolCall { id: "call_1".into(), name: "get_weather".into(), arguments: r#"{"city":"Paris"}"#.into() };
        let messages = vec![
            ChatMessage::new(Role::System, "Be brief."),
            ChatMessage::new(Role::User, "Weather in Paris?"),
            ChatMessage { role: Role::Assistant, content: String::new(), tool: Some(ToolTurn::Calls(vec![call])) },
            ChatMessage { role: Role::User, content: "sunny".into(), tool: Some(ToolTurn::Result { call_id: "call_1".into() }) },
            ChatMessage::new(Role::User, "And tomorrow?"),
        ];
        let plain = plain_conversation(&messages, &options(ToolChoice::Auto));
        assert_eq!(plain.len(), 4, "the result and the next question are one turn: {plain:?}");
        assert!(plain[0].content.starts_with("Be brief.\n\nYou can call these functions") && plain[0].content.contains("get_weather"));
        let calls: Value = serde_json::from_str(&plain[2].content).unwrap();
        assert_eq!(calls, json!({"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}));
        let result: Value = serde_json::from_str(plain[3].content.lines().next().unwrap()).unwrap();
        assert_eq!(result["tool_result"], json!({"tool_call_id": "call_1", "name": "get_weather", "content": "sunny"}));
        assert!(plain[3].content.ends_with("\nAnd tomorrow?"));
        assert!(plain.iter().all(|m| m.tool.is_none()));
        // Without tools now, earlier answers stay words and no instructions are added.
        let off = plain_conversation(&messages, &options(ToolChoice::None));
        assert_eq!(off[0].content, "Be brief.");
        assert!(!involved(&messages[..2], &options(ToolChoice::None)) && involved(&messages, &options(ToolChoice::None)));
    }

    #[test]
    fn the_schema_follows_the_choice() {
        assert_eq!(answer_schema(&options(ToolChoice::None)), None);
        assert_eq!(answer_schema(&AnswerOptions::default()), None, "no tools");
        let auto = answer_schema(&options(ToolChoice::Auto)).unwrap();
        assert_eq!(auto["anyOf"][1]["required"], json!(["response"]));
        let named = answer_schema(&options(ToolChoice::Named("get_weather".into()))).unwrap();
        let items = &named["properties"]["tool_calls"];
        assert_eq!(
            (items["maxItems"].as_u64(), &items["items"]["anyOf"][0]["properties"]["name"]),
            (Some(1), &json!({"const": "get_weather"}))
        );
        let mut parameters = weather().parameters;
        parameters["additionalProperties"] = json!(false);
        assert_eq!(items["items"]["anyOf"][0]["properties"]["arguments"], parameters, "held to the listed properties");
        let required = answer_schema(&options(ToolChoice::Required)).unwrap();
        assert_eq!(required["properties"]["tool_calls"]["maxItems"].as_u64(), Some(MAX_CALLS as u64));
    }

    #[test]
    fn objects_that_list_their_properties_are_closed_unless_they_say_otherwise() {
        let mut schema = json!({
            "type": "object",
            "properties": {"a": {"type": "object", "properties": {"b": {"type": "string"}}}, "open": {"type": "object", "properties": {}, "additionalProperties": true}},
            "$defs": {"Item": {"type": "object", "properties": {"n": {"type": "integer"}}}},
            "anyOf": [{"properties": {"c": {"type": "string"}}}],
        });
        closed(&mut schema);
        assert_eq!(schema["additionalProperties"], json!(false));
        assert_eq!(schema["properties"]["a"]["additionalProperties"], json!(false));
        assert_eq!(schema["properties"]["open"]["additionalProperties"], json!(true), "said otherwise");
        assert_eq!(schema["$defs"]["Item"]["additionalProperties"], json!(false));
        assert_eq!(schema["anyOf"][0]["additionalProperties"], json!(false));
        let mut free = json!({"type": "object"});
        closed(&mut free);
        assert_eq!(free, json!({"type": "object"}), "no properties listed: any object");
    }

    #[test]
    fn answers_read_back_as_calls_or_words() {
        let Reading::Calls(calls) = read_answer(r#"{"tool_calls":[{"name":"get_weather","arguments":{"city":"Oslo"}}]}"#) else {
            panic!("a call")
        };
        assert_eq!((calls[0].name.as_str(), calls[0].arguments.as_str()), ("get_weather", r#"{"city":"Oslo"}"#));
        assert!(calls[0].id.starts_with("call_") && calls[0].id.len() == 21);
        assert_eq!(read_answer(r#"{"response":"Hi \"there\""}"#), Reading::Text("Hi \"there\"".into()));
        assert_eq!(read_answer(r#"{"response":"cut sho"#), Reading::Text("cut sho".into()), "cut by its length");
        assert_eq!(read_answer(r#"{"tool_calls":[{"name":"get_we"#), Reading::Text(r#"{"tool_calls":[{"name":"get_we"#.into()));
    }
}
