//! Turning a conversation into prompt token ids.
//!
//! Llama-2-chat is encoded exactly as Meta's reference (`llama/generation.py`,
//! `chat_completion`): each piece is tokenized on its own and BOS/EOS are added as ids, never
//! as text, so there is no doubled BOS and no dependence on how a tokenizer splits `<s>`.
//! Models that bring their own template (GGUF metadata, tokenizer_config.json, a template file)
//! are rendered by mistral.rs.
use llamadeck_words::chat::{ChatMessage, Role};
use tokenizers::Tokenizer;

const B_INST: &str = "[INST]";
const E_INST: &str = "[/INST]";
const B_SYS: &str = "<<SYS>>\n";
const E_SYS: &str = "\n<</SYS>>\n\n";

/// How chat prompts are built for the loaded model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptFormat {
    /// The built-in Llama-2-chat encoding (models without a template, and Llama-2 templates).
    Llama2 { bos: u32, eos: u32 },
    /// The model's own Jinja template, rendered by mistral.rs.
    ModelTemplate,
}

/// True for a Jinja template that is Llama-2-chat's: we encode those ourselves, exactly.
pub fn is_llama2_template(template: &str) -> bool {
    template.contains("[INST]") && template.contains("<<SYS>>")
}

/// Checks the shape mistral.rs templates and Meta's reference both require: an optional system
/// prompt, then user/assistant strictly alternating, ending with a user message.
pub fn check_alternation(messages: &[ChatMessage]) -> Result<(), String> {
    let turns = strip_system(messages).1;
    if turns.is_empty() {
        return Err("the conversation has no user message".into());
    }
    for (i, m) in turns.iter().enumerate() {
        let expected = if i % 2 == 0 { Role::User } else { Role::Assistant };
        if m.role != expected {
            return Err(format!(
                "message {} is {:?} where {:?} was expected (roles must alternate user/assistant)",
                i + 1,
                m.role,
                expected
            ));
        }
    }
    if turns.len().is_multiple_of(2) {
        return Err("the conversation must end with a user message".into());
    }
    Ok(())
}

/// Splits off the system prompt; an empty one counts as none.
fn strip_system(messages: &[ChatMessage]) -> (Option<&str>, &[ChatMessage]) {
    match messages.split_first() {
        Some((first, rest)) if first.role == Role::System => (Some(first.content.as_str()).filter(|s| !s.trim().is_empty()), rest),
        _ => (None, messages),
    }
}

/// Meta's `chat_completion`, on token ids:
/// `BOS + tok("[INST] {user} [/INST] {answer} ") + EOS` per finished exchange, then
/// `BOS + tok("[INST] {user} [/INST]")`, with the system prompt wrapped in `<<SYS>>` and
/// prepended inside the first `[INST]`.
pub fn llama2_prompt(messages: &[ChatMessage], tokenizer: &Tokenizer, bos: u32, eos: u32) -> Result<Vec<u32>, String> {
    check_alternation(messages)?;
    let (system, turns) = strip_system(messages);
    let mut contents: Vec<String> = turns.iter().map(|m| m.content.clone()).collect();
    if let Some(system) = system {
        contents[0] = format!("{B_SYS}{system}{E_SYS}{}", contents[0]);
    }
    let encode = |text: &str| -> Result<Vec<u32>, String> {
        tokenizer.encode(text, false).map(|e| e.get_ids().to_vec()).map_err(|e| format!("tokenizer: {e}"))
    };
    let mut ids = Vec::new();
    for pair in contents.chunks_exact(2) {
        let (user, answer) = (pair[0].trim(), pair[1].trim());
        ids.push(bos);
        ids.extend(encode(&format!("{B_INST} {user} {E_INST} {answer} "))?);
        ids.push(eos);
    }
    let last = contents.last().expect("alternation checked").trim();
    ids.push(bos);
    ids.extend(encode(&format!("{B_INST} {last} {E_INST}"))?);
    Ok(ids)
}

/// Removes one leading BOS when a template and the tokenizer's post-processor both added one.
pub fn dedup_leading_bos(ids: &mut Vec<u32>, bos: Option<u32>) {
    if let Some(bos) = bos
        && ids.len() >= 2
        && ids[0] == bos
        && ids[1] == bos
    {
        ids.remove(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(role: Role, content: &str) -> ChatMessage {
        ChatMessage { role, content: content.into(), tool: None }
    }

    #[test]
    fn alternation_is_enforced() {
        let ok = [msg(Role::System, "s"), msg(Role::User, "a"), msg(Role::Assistant, "b"), msg(Role::User, "c")];
        assert!(check_alternation(&ok).is_ok());
        assert!(check_alternation(&ok[..3]).is_err());
        assert!(check_alternation(&[msg(Role::User, "a"), msg(Role::User, "b")]).is_err());
        assert!(check_alternation(&[msg(Role::System, "s")]).is_err());
    }

    #[test]
    fn doubled_bos_is_removed_once() {
        let mut ids = vec![1, 1, 5];
        dedup_leading_bos(&mut ids, Some(1));
        assert_eq!(ids, vec![1, 5]);
        dedup_leading_bos(&mut ids, Some(1));
        assert_eq!(ids, vec![1, 5]);
    }

    #[test]
    fn llama2_templates_are_recognised() {
        let hf = "{% if messages[0]['role'] == 'system' %}...{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}<<SYS>>\\n";
        assert!(is_llama2_template(hf));
        assert!(!is_llama2_template("{% for m in messages %}<|im_start|>{{ m['role'] }}{% endfor %}"));
    }
}
