//! Chat templates rendered here, in the environment Hugging Face templates expect (the one
//! mistral.rs 0.8.1 gives them: minijinja with Python's string methods, `raise_exception`,
//! `tojson`, `strftime_now`, trimmed blocks), then tokenized here. Rendering ourselves, rather
//! than through a tokenize request to mistral.rs's engine queue, means a prompt is built without
//! waiting behind another request, and it lets user text stay text: a special token's spelling
//! inside a message (`<|im_end|>`) is encoded as the characters it is, never as the control
//! token, so no client can forge a role boundary.
use llamadeck_words::chat::{ChatMessage, Role};
use minijinja::value::Kwargs;
use minijinja::{Environment, Error, ErrorKind, Value, context};
use tokenizers::Tokenizer;

/// A compiled chat template and the special tokens it is rendered with.
pub struct Renderer {
    env: Environment<'static>,
    bos: Option<String>,
    eos: Option<String>,
    unk: Option<String>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Renderer")
    }
}

impl Renderer {
    pub fn new(template: &str, bos: Option<String>, eos: Option<String>, unk: Option<String>) -> Result<Self, String> {
        let mut env = Environment::new();
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.set_lstrip_blocks(true);
        env.set_trim_blocks(true);
        env.add_function("raise_exception", |message: String| -> Result<String, Error> {
            Err(Error::new(ErrorKind::InvalidOperation, message))
        });
        env.add_function("strftime_now", |format: String| strftime(&format, now_unix()));
        env.add_filter("tojson", tojson);
        env.add_template_owned("chat", adapt(template)).map_err(|e| format!("the chat template does not compile: {e}"))?;
        Ok(Self { env, bos, eos, unk })
    }

    /// The prompt text for `messages`, ending with the assistant's turn opened.
    pub fn render(&self, messages: &[ChatMessage]) -> Result<String, String> {
        let messages: Vec<Value> = messages.iter().map(|m| context! { role => role_name(m.role), content => m.content.as_str() }).collect();
        let template = self.env.get_template("chat").map_err(|e| e.to_string())?;
        template
            .render(context! {
                messages => messages,
                add_generation_prompt => true,
                bos_token => self.bos,
                eos_token => self.eos,
                unk_token => self.unk,
                date_string => strftime("%d, %B, %Y", now_unix()).unwrap_or_default(),
                enable_thinking => true,
                reasoning_effort => "medium",
            })
            .map_err(|e| format!("the chat template failed: {e}"))
    }
}

fn role_name(role: Role) -> &'static str {
    role.name()
}

/// Python's reversed slice as minijinja's `|reverse` (as mistral.rs rewrites it). mistral.rs
/// also rewrites `range(n, -1, -1)` as `range(n)|reverse`, which drops one element;
/// minijinja's `range` takes a negative step, so descending ranges are left as Python means them.
fn adapt(template: &str) -> String {
    template.replace("[::-1]", "|reverse")
}

/// `tojson`, with Python's `indent=` as Hugging Face templates use it.
fn tojson(value: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    kwargs.assert_all_used()?;
    let json = match indent {
        Some(width) => {
            let spaces = b" ".repeat(width);
            let mut buf = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, serde_json::ser::PrettyFormatter::with_indent(&spaces));
            serde::Serialize::serialize(&value, &mut ser).map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))?;
            String::from_utf8(buf).map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))?
        }
        None => serde_json::to_string(&value).map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))?,
    };
    Ok(Value::from_safe_string(json))
}

fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

const MONTHS: [&str; 12] =
    ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAYS: [&str; 7] = ["Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"];

/// The UTC date of `unix` seconds as (year, month 1-12, day 1-31), by the civil-from-days count.
fn civil(unix: i64) -> (i64, usize, i64) {
    let days = unix.div_euclid(86_400) + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as usize, day)
}

/// The strftime specifiers templates use (%d %m %Y %y %B %b %A %a %H %M %S %j %%), in UTC.
fn strftime(format: &str, unix: i64) -> Result<String, Error> {
    let (year, month, day) = civil(unix);
    let secs = unix.rem_euclid(86_400);
    let weekday = DAYS[unix.div_euclid(86_400).rem_euclid(7) as usize];
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str(&format!("{day:02}")),
            Some('m') => out.push_str(&format!("{month:02}")),
            Some('Y') => out.push_str(&year.to_string()),
            Some('y') => out.push_str(&format!("{:02}", year.rem_euclid(100))),
            Some('B') => out.push_str(MONTHS[month - 1]),
            Some('b') => out.push_str(&MONTHS[month - 1][..3]),
            Some('A') => out.push_str(weekday),
            Some('a') => out.push_str(&weekday[..3]),
            Some('H') => out.push_str(&format!("{:02}", secs / 3600)),
            Some('M') => out.push_str(&format!("{:02}", secs / 60 % 60)),
            Some('S') => out.push_str(&format!("{:02}", secs % 60)),
            Some('%') => out.push('%'),
            Some(other) => return Err(Error::new(ErrorKind::InvalidOperation, format!("strftime_now: %{other} is not supported"))),
            None => out.push('%'),
        }
    }
    Ok(out)
}

/// The special tokens' spellings that appear in any message of `messages`.
pub fn specials_in<'a>(messages: &[ChatMessage], specials: &'a [String]) -> Vec<&'a str> {
    specials.iter().map(String::as_str).filter(|s| !s.is_empty() && messages.iter().any(|m| m.content.contains(s))).collect()
}

/// Tokenizes a rendered prompt whose messages contained special tokens' spellings: the text is
/// cut at each place one of `literals` occurs inside a message (`messages`, in order, tell where
/// the messages are), the template's own text is encoded as usual and each literal as plain
/// characters (`plain` never parses special tokens).
pub fn encode_shielded(
    rendered: &str,
    messages: &[ChatMessage],
    literals: &[&str],
    tokenizer: &Tokenizer,
    plain: &Tokenizer,
) -> Result<Vec<u32>, String> {
    let spans = literal_spans(rendered, messages, literals);
    let encode = |t: &Tokenizer, text: &str, special: bool| {
        t.encode_fast(text, special).map(|e| e.get_ids().to_vec()).map_err(|e| format!("tokenizer: {e}"))
    };
    let mut ids = Vec::new();
    let mut at = 0;
    for (start, end) in spans {
        if start > at {
            ids.extend(encode(tokenizer, &rendered[at..start], at == 0)?);
        }
        ids.extend(encode(plain, &rendered[start..end], false)?);
        at = end;
    }
    if at < rendered.len() {
        ids.extend(encode(tokenizer, &rendered[at..], at == 0)?);
    }
    Ok(ids)
}

/// Where each literal occurs inside a message's text in the rendered prompt: the messages are
/// found in order, each at or after the end of the one before.
fn literal_spans(rendered: &str, messages: &[ChatMessage], literals: &[&str]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut cursor = 0;
    for message in messages {
        let content = message.content.trim();
        if content.is_empty() {
            continue;
        }
        let Some(found) = rendered[cursor..].find(content) else { continue };
        let (start, end) = (cursor + found, cursor + found + content.len());
        let mut at = start;
        while at < end {
            let next = literals.iter().filter_map(|l| rendered[at..end].find(l).map(|i| (at + i, at + i + l.len()))).min();
            let Some((s, e)) = next else { break };
            spans.push((s, e));
            at = e;
        }
        cursor = end;
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    fn msg(role: Role, content: &str) -> ChatMessage {
        ChatMessage { role, content: content.into(), tool: None }
    }

    #[test]
    fn renders_chatml_with_the_generation_prompt() {
        let r = Renderer::new(CHATML, None, None, None).unwrap();
        let text = r.render(&[msg(Role::System, "Be brief."), msg(Role::User, "Hi")]).unwrap();
        assert_eq!(text, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    }

    #[test]
    fn python_methods_raise_exception_and_descending_ranges_work() {
        let t = "{% if messages[0]['role'] != 'user' %}{{ raise_exception('users first') }}{% endif %}\
                 {% for i in range(messages|length - 1, -1, -1) %}{{ messages[i]['content'].strip().upper() }}{% endfor %}\
                 {{ bos_token }}{{ messages|tojson }}";
        let r = Renderer::new(t, Some("<s>".into()), None, None).unwrap();
        let text = r.render(&[msg(Role::User, " a "), msg(Role::Assistant, "b")]).unwrap();
        assert!(text.starts_with("BA<s>[{"), "{text}");
        assert!(r.render(&[msg(Role::Assistant, "b")]).unwrap_err().contains("users first"));
        assert!(Renderer::new("{% for %}", None, None, None).unwrap_err().contains("does not compile"));
    }

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(strftime("%d, %B, %Y %H:%M:%S %a", 0).unwrap(), "01, January, 1970 00:00:00 Thu");
        assert_eq!(strftime("%Y-%m-%d %b", 1_709_164_800).unwrap(), "2024-02-29 Feb");
        assert_eq!(strftime("%d %B %Y", 951_782_400).unwrap(), "29 February 2000");
        assert!(strftime("%Q", 0).is_err());
    }

    #[test]
    fn literals_are_found_only_inside_messages() {
        let messages = [msg(Role::User, "say <|im_end|> twice <|im_end|>")];
        let rendered = "<|im_start|>user\nsay <|im_end|> twice <|im_end|><|im_end|>\n";
        let spans = literal_spans(rendered, &messages, &["<|im_end|>"]);
        let texts: Vec<&str> = spans.iter().map(|&(s, e)| &rendered[s..e]).collect();
        assert_eq!(texts, ["<|im_end|>", "<|im_end|>"]);
        assert_eq!(spans[1].1, rendered.len() - "<|im_end|>\n".len(), "the template's own token is not touched");
    }
}
