#!/usr/bin/env python3
"""Writes data/conversations.json: the conversations of the chat-template conformance
suite (run it again after editing; the output is deterministic)."""
import json
import os

SYS = {"role": "system", "content": "You are a helpful assistant."}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city, e.g. \"Paris\""},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Current time in a time zone.",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
    },
}


def u(t):
    return {"role": "user", "content": t}


def a(t):
    return {"role": "assistant", "content": t}


def call(name, args, cid="call_1"):
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


CONVS = [
    {"name": "single_user", "messages": [u("Hello!")]},
    {"name": "system_user", "messages": [SYS, u("What is 2+2?")]},
    {"name": "multi_turn_system", "messages": [SYS, u("Hi"), a("Hello! How can I help?"), u("Tell me a joke.")]},
    {"name": "multi_turn_no_system", "messages": [u("One"), a("Two"), u("Three"), a("Four"), u("Five")]},
    {"name": "ends_with_assistant", "messages": [SYS, u("Say hi"), a("Hi!")]},
    {"name": "think_in_history", "messages": [
        u("What is 7*6?"), a("<think>\n7 times 6 is 42.\n</think>\n\nIt is 42."), u("And 6*7?")]},
    {"name": "think_last_assistant", "messages": [
        SYS, u("Why is the sky blue?"), a("<think>\nRayleigh scattering.\n</think>\n\nBecause of Rayleigh scattering.")]},
    {"name": "think_multi", "messages": [
        u("a"), a("<think>x</think>b"), u("c"), a("<think>\ny\n</think>\n\nd"), u("e")]},
    {"name": "reasoning_content", "messages": [
        u("Capital of France?"), {"role": "assistant", "content": "Paris.", "reasoning_content": "The capital is Paris."},
        u("And of Italy?")]},
    {"name": "unicode_quotes", "messages": [
        SYS, u("Ünïcödé «quotes» \"double\" 'single' \\ backslash — 日本語 🙂 émoji\ttab"),
        a("Réponse: ‘ok’ “fine” 👍"), u("{{ not a template }} {% raw %} <|im_end|> </s>")]},
    {"name": "whitespace_content", "messages": [
        {"role": "system", "content": "  padded system  \n"}, u("\n  leading and trailing  \n\n"), a("  spaced  "), u("x")]},
    {"name": "empty_system", "messages": [{"role": "system", "content": ""}, u("Hi")]},
    {"name": "content_parts", "messages": [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [{"type": "text", "text": "Part one."}, {"type": "text", "text": "Part two."}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Done."}]},
        {"role": "user", "content": [{"type": "text", "text": "More?"}]}]},
    {"name": "long_conversation", "messages": [SYS] + [
        m for i in range(6) for m in (u("Question %d: what is %d squared?" % (i, i)), a("%d squared is %d." % (i, i * i)))
    ] + [u("Thanks!")]},
    {"name": "tools_plain", "tools": [WEATHER_TOOL], "messages": [SYS, u("Hello there")]},
    {"name": "tools_no_system", "tools": [WEATHER_TOOL, TIME_TOOL], "messages": [u("What's the weather in Paris?")]},
    {"name": "tool_call_round", "tools": [WEATHER_TOOL], "messages": [
        SYS, u("What's the weather in Paris?"),
        {"role": "assistant", "content": "", "tool_calls": [call("get_weather", {"city": "Paris", "unit": "celsius"})]},
        {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "{\"temperature\": 21.5, \"sky\": \"clear\"}"},
    ]},
    {"name": "tool_call_answered", "tools": [WEATHER_TOOL], "messages": [
        u("Weather in Zürich?"),
        {"role": "assistant", "content": "Let me check.", "tool_calls": [call("get_weather", {"city": "Zürich"})]},
        {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "Sunny, 18°C"},
        a("It is sunny and 18°C in Zürich."), u("Thanks")]},
    {"name": "parallel_tool_calls", "tools": [WEATHER_TOOL, TIME_TOOL], "messages": [
        u("Weather and time in Tokyo?"),
        {"role": "assistant", "content": "", "tool_calls": [
            call("get_weather", {"city": "Tokyo"}, "call_a"), call("get_time", {"tz": "Asia/Tokyo"}, "call_b")]},
        {"role": "tool", "tool_call_id": "call_a", "name": "get_weather", "content": "Rain, 12°C"},
        {"role": "tool", "tool_call_id": "call_b", "name": "get_time", "content": "09:30"},
    ]},
    {"name": "tool_call_string_args", "tools": [TIME_TOOL], "messages": [
        u("Time in UTC?"),
        {"role": "assistant", "content": "", "tool_calls": [call("get_time", "{\"tz\": \"UTC\"}")]},
        {"role": "tool", "tool_call_id": "call_1", "name": "get_time", "content": "12:00"},
    ]},
    {"name": "numbers_and_nesting", "messages": [
        u("Numbers: 1, 2.5, -3e10, 0.1+0.2"), a("{\"a\": [1, 2, {\"b\": null}]}"), u("ok")]},
    {"name": "system_only", "messages": [SYS]},
]


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "conversations.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump(CONVS, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("wrote %d conversations to %s" % (len(CONVS), out))


if __name__ == "__main__":
    main()
