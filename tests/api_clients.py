"""Third-party clients against a running llamadeck API (run by tests/server/real_model.rs).

usage: api_clients.py SMOL_BASE_URL LLAMA_BASE_URL

SMOL_BASE_URL serves SmolLM2; LLAMA_BASE_URL serves the tiny Llama-2-format model (256-token
context), where LangChain's max_tokens=4096 must be clamped, as on a 4096-token Llama-2-13B.
"""
import os
import sys

import openai
from langchain_classic.chains import LLMChain
from langchain_core.messages import HumanMessage
from langchain_core.prompts import PromptTemplate
from langchain_openai import ChatOpenAI

smol, llama = sys.argv[1], sys.argv[2]
os.environ["OPENAI_API_KEY"] = "random-string"

client = openai.OpenAI(base_url=smol, api_key="random-string", max_retries=0, timeout=120)

models = client.models.list()
assert len(models.data) == 1, models

reply = client.chat.completions.create(
    model="gpt-3.5-turbo",
    messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour."}],
    max_completion_tokens=8,
    temperature=0,
)
assert reply.choices[0].message.content, reply
assert reply.choices[0].finish_reason in ("stop", "length"), reply
assert reply.usage.completion_tokens <= 8 and reply.usage.prompt_tokens > 0, reply.usage
print("openai chat:", repr(reply.choices[0].message.content), reply.usage)

pieces, finish = [], None
for chunk in client.chat.completions.create(
    model="x", messages=[{"role": "user", "content": "Name a fruit."}], max_tokens=8, stream=True, stop=["\n\n"], seed=11
):
    if chunk.choices:
        pieces.append(chunk.choices[0].delta.content or "")
        finish = chunk.choices[0].finish_reason or finish
assert "".join(pieces) and finish in ("stop", "length"), (pieces, finish)
print("openai stream:", repr("".join(pieces)), finish)

text = client.completions.create(model="x", prompt="Once upon a time", max_tokens=6, temperature=0)
assert text.choices[0].text and text.usage.completion_tokens == 6, text
print("openai completion:", repr(text.choices[0].text))

try:
    client.chat.completions.create(model="x", messages=[{"role": "wizard", "content": "hi"}])
    raise AssertionError("an unknown role was accepted")
except openai.BadRequestError as e:
    assert e.body["param"] == "messages[0].role", e.body
    print("openai error:", e.body["message"])

# The README's LangChain example (today's import), against a Llama-2-format model.
# Seeded: a sampled answer that drew EOS first would be empty, once in a while, with a fresh seed.
chat = ChatOpenAI(openai_api_base=llama, max_tokens=4096, seed=11)
answer = chat.invoke([HumanMessage(content="What are the trade-offs of deploying models on-premise I should be aware of?")])
# Sampled (LangChain's default temperature 0.7): this random-weight model may pick EOS early.
usage = answer.response_metadata["token_usage"]
assert answer.content and usage["prompt_tokens"] + usage["completion_tokens"] <= 256, answer
print("langchain:", usage)
# Greedy, it never picks EOS: the 4096 asked for is clamped to what the context has left.
answer = ChatOpenAI(openai_api_base=llama, max_tokens=4096, temperature=0).invoke([HumanMessage(content="Hello")])
usage = answer.response_metadata["token_usage"]
assert answer.response_metadata["finish_reason"] == "length", answer
assert usage["prompt_tokens"] + usage["completion_tokens"] == 256, usage
print("langchain, greedy:", usage)

# A prompt already in Llama-2 form through a PromptTemplate (LLMChain's modern spelling).
template = """<s>[INST] <<SYS>>
You are a helpful assistant.
<</SYS>>

{user_message} [/INST]"""
chain = PromptTemplate(input_variables=["user_message"], template=template) | ChatOpenAI(openai_api_base=llama, max_tokens=16, seed=11)
answer = chain.invoke({"user_message": "What is on-premise deployment?"})
assert answer.content, answer
usage = answer.response_metadata["token_usage"]
# BOS + the prompt's own tokens (this vocabulary has one token per ASCII character, after a
# leading "▁"): no second [INST] wrapping, no literal "<s>" as text.
text = template[len("<s>"):].replace("{user_message}", "What is on-premise deployment?")
assert usage["prompt_tokens"] == 1 + 1 + len(text), (usage, 2 + len(text))
print("langchain template:", usage)

# The README's LLMChain(llm=chat, prompt=prompt), from langchain-classic: the same prompt tokens.
prompt = PromptTemplate(input_variables=["user_message"], template=template)
llm_chain = LLMChain(llm=ChatOpenAI(openai_api_base=llama, max_tokens=16, seed=11), prompt=prompt, return_final_only=False)
out = llm_chain.invoke({"user_message": "What is on-premise deployment?"})
assert out["text"], out
usage = out["full_generation"][0].message.response_metadata["token_usage"]
assert usage["prompt_tokens"] == 1 + 1 + len(text), (usage, 2 + len(text))
print("langchain LLMChain:", usage)

# Structured output (response_format json_schema, LangChain's default method) and logprobs:
# the engine holds the demo model's answer to the schema token by token.
from typing import Literal

from pydantic import BaseModel


class Paint(BaseModel):
    colour: Literal["red", "green", "blue"]
    bright: bool


# A model name LangChain believes has structured output: with gpt-3.5-turbo it would switch to a
# tool call (tested below).
paint = ChatOpenAI(openai_api_base=smol, model="gpt-4o-mini", temperature=0, max_tokens=40).with_structured_output(Paint)
picked = paint.invoke("Pick a colour for a boat.")
assert isinstance(picked, Paint), picked
print("langchain structured output:", picked)

reply = client.chat.completions.create(
    model="x", messages=[{"role": "user", "content": "Name a colour."}], max_tokens=4, temperature=0, logprobs=True, top_logprobs=2
)
scored = reply.choices[0].logprobs.content
assert len(scored) == 4 and all(len(t.top_logprobs) == 2 for t in scored), scored
assert "".join(t.token for t in scored).strip() == reply.choices[0].message.content.strip(), scored
print("openai logprobs:", [(t.token, round(t.logprob, 3)) for t in scored])

answer = ChatOpenAI(openai_api_base=smol, temperature=0, max_tokens=4, logprobs=True).invoke("Name a colour.")
assert len(answer.response_metadata["logprobs"]["content"]) == 4, answer.response_metadata
print("langchain logprobs:", len(answer.response_metadata["logprobs"]["content"]))

# Tools (bind_tools) on the demo model, whose template knows none: a forced call keeps to the
# tool's schema; the result sent back gets an answer.
from langchain_core.messages import ToolMessage
from langchain_core.tools import tool


@tool
def get_weather(city: Literal["Paris", "Oslo", "Rome"]) -> str:
    """The weather in a city."""
    return "Sunny, 21 degrees."


forced = ChatOpenAI(openai_api_base=smol, temperature=0, max_tokens=60).bind_tools([get_weather], tool_choice="get_weather")
question = HumanMessage(content="What is the weather in Paris?")
called = forced.invoke([question])
assert called.tool_calls and called.tool_calls[0]["name"] == "get_weather", called
assert called.tool_calls[0]["args"]["city"] in ("Paris", "Oslo", "Rome"), called.tool_calls
print("langchain bind_tools:", called.tool_calls)
result = ToolMessage(content=get_weather.invoke(called.tool_calls[0]["args"]), tool_call_id=called.tool_calls[0]["id"])
follow = ChatOpenAI(openai_api_base=smol, temperature=0, max_tokens=40).bind_tools([get_weather]).invoke([question, called, result])
assert follow.content or follow.tool_calls, follow
print("langchain after the tool:", repr(follow.content), follow.tool_calls)
# with_structured_output through a tool call (method="function_calling").
by_tool = ChatOpenAI(openai_api_base=smol, temperature=0, max_tokens=40).with_structured_output(Paint, method="function_calling")
assert isinstance(by_tool.invoke("Pick a colour for a boat."), Paint)
print("langchain structured output by tool call: ok")

print("all clients ok")
