"""Chat messages become a few-shot Q/A scaffold for base models, or the model's own chat template."""

from __future__ import annotations

from local_backend.prompting import BASE_STOPS, build_prompt, scaffold_prompt
from router.backends.base import ChatMessage


def test_scaffold_ends_with_the_question_awaiting_an_answer() -> None:
    prompt = scaffold_prompt([ChatMessage("user", "What is 5 + 6?")])
    assert prompt.text.endswith("Q: What is 5 + 6?\nA:")
    assert prompt.text.count("Q:") == 5  # four shots and the question
    assert prompt.stop == BASE_STOPS and not prompt.templated


def test_system_message_replaces_the_preamble_and_history_becomes_shots() -> None:
    messages = [
        ChatMessage("system", "You are a pirate."),
        ChatMessage("user", "Hi"),
        ChatMessage("assistant", "Ahoy!"),
        ChatMessage("user", "Where is the treasure?"),
    ]
    prompt = scaffold_prompt(messages)
    assert prompt.text.startswith("You are a pirate.")
    assert "Q: Hi\nA: Ahoy!\n\nQ: Where is the treasure?\nA:" in prompt.text


def test_assistant_prefix_is_continued() -> None:
    prompt = scaffold_prompt([ChatMessage("user", "2+2?")], assistant_prefix="Let me think.")
    assert prompt.text.endswith("A: Let me think.")


class _TemplatedTokenizer:
    chat_template = "{{ messages }}"

    def apply_chat_template(self, chat: list[dict[str, str]], tokenize: bool, add_generation_prompt: bool) -> str:
        assert not tokenize and add_generation_prompt
        return "".join(f"<{m['role']}>{m['content']}" for m in chat) + "<assistant>"


def test_models_with_a_chat_template_use_it() -> None:
    prompt = build_prompt([ChatMessage("user", "hello")], _TemplatedTokenizer())
    assert prompt.text == "<user>hello<assistant>"
    assert prompt.templated and prompt.stop == ()
